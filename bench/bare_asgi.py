"""The ceiling of an uplink: a bare ASGI app on the same uvicorn as `fieldstation serve` (uvloop, the hub's
httptools protocol with its connection deadlines, the same keep-alive and header limits, no access log) that
reads the body and answers 201 with a small JSON body. Whatever fieldstation does beyond this is its own
cost.

    python -m bench.bare_asgi PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.types import Receive, Scope, Send

from fieldstation.http.connection import KEEP_ALIVE_S, MAX_HEADER_BYTES, DeadlineHttpProtocol

ANSWER = b'{"recordId":"00000000-0000-7000-8000-000000000000","duplicate":false}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 201 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http=DeadlineHttpProtocol,
        timeout_keep_alive=KEEP_ALIVE_S, h11_max_incomplete_event_size=MAX_HEADER_BYTES, access_log=False,
        log_level="warning",
    )  # fmt: skip
