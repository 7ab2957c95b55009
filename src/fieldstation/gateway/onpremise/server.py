"""The on-premise API's HTTP server: uvicorn inside the agent's event loop, on ON_PREMISE_PORT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import uvicorn

from fieldstation.gateway.onpremise.api import OnPremiseApi

log = logging.getLogger("fieldstation.gateway.onpremise")
PURGE_EVERY_S = 3600


class _Embedded(uvicorn.Server):
    """The agent handles the signals (it says goodbye to the hub first)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(api: OnPremiseApi, host: str, port: int, retention_days: int) -> None:
    config = uvicorn.Config(
        api.app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        ws_max_size=1_000_000,
    )
    server = _Embedded(config)
    log.info("on-premise API on http://%s:%s (REST and socket.io)", host, port)
    async with asyncio.TaskGroup() as group:
        group.create_task(api.sockets.keep_alive())
        group.create_task(_purge(api, retention_days))
        await server.serve()
        if not server.started:
            raise OSError(f"the on-premise API could not listen on {host}:{port} (is the port taken?)")


async def _purge(api: OnPremiseApi, retention_days: int) -> None:
    while True:
        gone = api.agent.store.purge_local(int((time.time() - retention_days * 86_400) * 1000))
        if gone:
            log.info("on-premise store: %d records older than %d days removed", gone, retention_days)
        await asyncio.sleep(PURGE_EVERY_S)
