"""The WebSocket event stream, `/instathings/ws?project=<projectId>&access_token=<token>`: every event of
the project as `{"action", "payload"}`. Log lines are gathered and sent every 5 seconds, per device and
container, as the seed describes.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time."""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, cast

import orjson
from fastapi import FastAPI, WebSocket

from fieldstation.core.errors import NotFound, StoreUnavailable, Unauthorized
from fieldstation.core.events import EventBatch, SubscriberTooSlow, Subscription
from fieldstation.core.freshness import CREDENTIALS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Credential, CredentialKind, Event, Project
from fieldstation.dialects.instathings import render
from fieldstation.http.websocket_frames import DirectFrames, text_frame
from fieldstation.link.topics import ENV_SETTING

LOG_BATCH_S = 5.0
MAX_LOG_LINES = 1_000
"""Log lines of one device and container kept for one batch; more in 5 s are not sent (the logs endpoint
has them all)."""
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
VIEW = "instathings.ws"
"""This view's key in `Event.rendered`."""
log = logging.getLogger("fieldstation.instathings")


def add_route(app: FastAPI, hub_ref: Callable[[], Hub]) -> None:
    @app.websocket("/ws")
    async def events(websocket: WebSocket) -> None:
        hub = hub_ref()
        caller = await _authorised(hub, websocket)
        if caller is None:
            # Before the handshake is accepted, a close is answered as HTTP 403 (docs/instathings.md).
            await websocket.close(code=POLICY_VIOLATION)
            return
        credential, project = caller
        with hub.events.subscribe(project.id) as stream:  # before accepting: no event falls in between
            await websocket.accept()
            helpers = [
                asyncio.create_task(_forward(websocket, stream, project)),
                asyncio.create_task(_close_when_revoked(hub, websocket, credential)),
            ]
            try:
                # The client says nothing we need (text or binary alike); reading notices when it leaves.
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                for task in helpers:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task


async def _authorised(hub: Hub, websocket: WebSocket) -> tuple[Credential, Project] | None:
    token = websocket.query_params.get("access_token", "")
    wanted = websocket.query_params.get("project", "")
    try:
        credential = await hub.auth.by_id(
            hub.tokens.subject(token, CredentialKind.INSTATHINGS), CredentialKind.INSTATHINGS
        )
        project = await hub.projects.by_id(credential.project_id)
    except (Unauthorized, NotFound):
        return None
    return (credential, project) if wanted in (project.short_id, project.name) else None


async def _close_when_revoked(hub: Hub, websocket: WebSocket, credential: Credential) -> None:
    """A session lives no longer than the credential that opened it. The generation is taken before each
    look-up, so a revocation during one is not missed."""
    seen = hub.freshness.generation(CREDENTIALS)
    while True:
        await hub.freshness.changed(CREDENTIALS, since=seen)
        seen = hub.freshness.generation(CREDENTIALS)
        try:
            await hub.auth.by_id(credential.id, CredentialKind.INSTATHINGS)
        except Unauthorized:
            await websocket.close(code=POLICY_VIOLATION, reason="credential revoked")
            return
        except StoreUnavailable:
            log.warning("could not check a WebSocket's credential; checking again at the next change")


async def _forward(websocket: WebSocket, stream: Subscription, project: Project) -> None:
    logs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)

    async def flush_logs() -> None:
        while True:
            await asyncio.sleep(LOG_BATCH_S)
            batch = dict(logs)
            logs.clear()
            for (device, container), lines in batch.items():
                payload = {"logs": lines, "deviceId": device, "containerName": container}
                await websocket.send_text(orjson.dumps({"action": "log", "payload": payload}).decode())

    def gather_logs(log_events: list[Event]) -> None:
        for event in log_events:
            key = (event.payload["device"], event.payload["container"])
            room = max(MAX_LOG_LINES - len(logs[key]), 0)  # a chatty gateway must not grow a session
            logs[key].extend(render.log_entry(line) for line in event.payload["lines"][:room])

    flusher = asyncio.create_task(flush_logs())
    direct = DirectFrames.of(websocket)
    log.debug(
        "a WebSocket of project %s: events %s",
        project.short_id,
        "framed once and written to the connection" if direct else "sent through ASGI",
    )
    closing = False

    def write(batch: EventBatch) -> bool:
        """The batch written to the connection in the publisher's call (no task of this session runs)."""
        nonlocal closing
        assert direct is not None
        sent, log_events, frames = _split(batch, project)
        gather_logs(log_events)
        if not sent:
            return True
        if not direct.write(frames):
            closing = True  # the receive loop sees the disconnect
            return False
        return not direct.too_slow()

    try:
        if direct is not None:
            stream.hand_to(write)
        async for batch in stream:  # with a sink, this only ends when the sink is let go
            sent, log_events, _ = _split(batch, project)
            gather_logs(log_events)
            for event in sent:
                await websocket.send_text(_message(event, project))
    except SubscriberTooSlow:
        if closing:
            return
        log.warning("closing a WebSocket of project %s that fell behind", project.short_id)
        if direct is not None:
            direct.cut_off_later()  # first: the close waits until the connection takes writes again
        await websocket.close(code=TRY_AGAIN_LATER, reason="too slow: fell behind the events")
    finally:
        flusher.cancel()


def _message(event: Event, project: Project) -> str:
    """The event as every subscriber of the project receives it, rendered once for all of them."""
    message = event.rendered.get(VIEW)
    if message is None:
        message = orjson.dumps({"action": event.action, "payload": _payload(event, project)}).decode()
        event.rendered[VIEW] = message
    return str(message)


def _split(batch: EventBatch, project: Project) -> tuple[list[Event], list[Event], bytes]:
    """The batch's events to send, its log events (each session gathers those for 5 s), and the events to
    send as WebSocket frames in one piece: made once per batch for all the project's subscribers."""
    made = cast(tuple[list[Event], list[Event], bytes] | None, batch.rendered.get(VIEW))
    if made is None:
        sent = [event for event in batch if event.action != "log"]
        logged = [event for event in batch if event.action == "log"]
        made = (sent, logged, b"".join([text_frame(_message(event, project)) for event in sent]))
        batch.rendered[VIEW] = made
    return made


def _payload(event: Event, project: Project) -> dict[str, Any]:
    if event.action == "data":
        return render.data_event(event.payload, project)
    if event.action == "status":
        return {
            "projectId": project.short_id,
            "response": event.payload["response"],
            "ttl": event.payload.get("ttl"),
            "deviceId": event.payload["device"],
            "id": event.payload["operation"],
        }
    if event.action in render.GATEWAY_EVENTS or event.action in render.PAIRING_EVENTS:
        return render.gateway_event(event.payload, project, project.settings.get(ENV_SETTING, "sandbox"))
    return event.payload
