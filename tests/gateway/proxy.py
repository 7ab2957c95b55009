"""A TCP proxy of the test's own between the agent and the broker, that can drop the link silently: it
stops forwarding without closing anything (a dead WAN: no FIN, no RST), and later resets every connection
it held and forwards again."""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading


class SilentLink:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.forwarding = threading.Event()
        self.forwarding.set()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self) -> None:
        """Stop forwarding; every connection stays open."""
        self.forwarding.clear()

    def restore(self) -> None:
        """Reset the connections held during the drop (RST), and forward new ones again."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    end.close()
        self.forwarding.set()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                self.forwarding.wait()
                readable, _, _ = select.select([a, b], [], [], 0.2)
                if not self.forwarding.is_set():
                    continue  # what was read stays unread: nothing passes while the link is down
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        raise OSError("closed")
                    peers[end].sendall(data)
        except (OSError, ValueError):  # ValueError: reset by `restore` while selecting
            for end in (a, b):
                with contextlib.suppress(OSError):
                    end.close()
