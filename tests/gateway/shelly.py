"""An HTTP server of the test's own that answers as a Shelly Plug S does (Gen1 API): `/shelly`, `/status`,
`/relay/0?turn=on|off|toggle`."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class ShellyPlug:
    def __init__(self) -> None:
        self.on = False
        self.requests: list[tuple[str, str]] = []
        plug = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                plug.requests.append(("GET", self.path))
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == "/shelly":
                    self._json(
                        {
                            "type": "SHPLG-S",
                            "mac": "A4CF12F45A1B",
                            "auth": False,
                            "fw": "20230913-112003/v1.14.0",
                        }
                    )
                elif url.path == "/status":
                    self._json(plug.status())
                elif url.path == "/relay/0":
                    turn = query.get("turn")
                    if turn in ("on", "off"):
                        plug.on = turn == "on"
                    elif turn == "toggle":
                        plug.on = not plug.on
                    self._json({"ison": plug.on, "has_timer": False, "overpower": False})
                else:
                    self.send_error(404)

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def status(self) -> dict[str, Any]:
        return {
            "relays": [{"ison": self.on, "has_timer": False, "overpower": False}],
            "meters": [{"power": 41.5 if self.on else 0.0, "is_valid": True}],
            "temperature": 37.35,
            "overtemperature": False,
        }

    def close(self) -> None:
        self.server.shutdown()
