"""The uplink webhooks AWT's documentation places under its API (`intake/webhooks.py` serves them)."""

from starlette.types import ASGIApp

from fieldstation import networks
from fieldstation.dialects import HubRef
from fieldstation.dialects.awt import errors
from fieldstation.intake.webhooks import WebhookFront, Webhooks

WEBHOOKS: Webhooks = {
    "/lora": networks.AWT,
    "/ttn-webhook": networks.TTN,
    "/chirpstack": networks.CHIRPSTACK,
    "/actility": networks.ACTILITY,
}
"""The AWT seed's uplink paths, and the network server whose webhook each takes."""


def front(app: ASGIApp, hub_ref: HubRef, mount: str) -> ASGIApp:
    return WebhookFront(app, hub_ref, mount, WEBHOOKS, errors.refusal_response, errors.crashed)
