"""Ways data comes in, each over the core's one entry point for uplinks (`hub.ingestor`): the LoRa network
servers' webhooks (`webhooks.py`) and a real Astrocast account's push callbacks (`astrocast.py`); next, the
gateways' MQTT link. A way in knows its transport and who may use it; what the bodies mean is a pure parser
in `networks/`. It is served under whatever prefix an API mounts it at, and that API says its refusals in
its own words (`Refused`, rendered by the API's `refusal_response`)."""

from fieldstation.intake.refusals import Refusal, RefusalRenderer, Refused

__all__ = ["Refusal", "RefusalRenderer", "Refused"]
