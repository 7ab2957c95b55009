"""AWT's hottest paths, answered before the framework: the uplink webhooks (`intake.webhooks.WebhookFront`)
and the `/data` pages. A `/data` page's own work is a few milliseconds; the framework's per-request
machinery (the mount's routing, dependency solving, the exception middleware) took 1.3 ms more of it,
measured in-process (docs/performance.md). The routes stay in the app, which describes them in its OpenAPI
document and answers every other method and path; both call `calls`, so that they answer alike."""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from fieldstation.dialects import HubRef
from fieldstation.dialects.awt import calls, errors
from fieldstation.dialects.awt.webhooks import WEBHOOKS
from fieldstation.http.responses import JSON
from fieldstation.intake.webhooks import WebhookFront

NOT_TAGS = frozenset({"latest", "archive"})
"""`/data/latest` and `/data/archive` are routes of their own, not tags."""


def front(app: ASGIApp, hub_ref: HubRef, mount: str) -> ASGIApp:
    webhooks = WebhookFront(app, hub_ref, mount, WEBHOOKS, errors.refusal_response, errors.crashed)
    return DataFront(webhooks, hub_ref, mount)


class DataFront:
    def __init__(self, app: ASGIApp, hub_ref: HubRef, mount: str) -> None:
        self.app = app
        self._hub_ref = hub_ref
        self._data = f"{mount}/data"
        self._tag_prefix = f"{mount}/data/"

    @property
    def state(self) -> object:
        """The wrapped app's state, so that the front is as transparent as middleware."""
        return getattr(self.app, "state", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if path == self._data:
                await self._page(scope, receive, send, None)
                return
            if path.startswith(self._tag_prefix):
                tag = path[len(self._tag_prefix) :]
                if tag and "/" not in tag and tag not in NOT_TAGS:
                    await self._page(scope, receive, send, tag)
                    return
        await self.app(scope, receive, send)

    async def _page(self, scope: Scope, receive: Receive, send: Send, tag: str | None) -> None:
        scope["fieldstation.route"] = "data_all" if tag is None else "data_tag"  # the metrics' route label
        api_key: str | None = None
        authorization: str | None = None
        for name, value in scope["headers"]:  # the first of repeated headers, as Starlette's reading
            if name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        query = QueryParams(scope["query_string"])  # the framework's own reading: the last of a repeat
        try:
            hub = self._hub_ref()
            credential = await calls.bearer_credential(hub, api_key, authorization or "")
            window = calls.window_params(query.get("start"), query.get("end"), query.get("offset"))
            body = await calls.recent_page(hub, credential, window, tag)
        except Exception as exc:
            await errors.response_for(exc)(scope, receive, send)
            return
        headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON.encode())]  # as Starlette
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
