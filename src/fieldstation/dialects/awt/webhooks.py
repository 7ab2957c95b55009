"""The uplink webhooks AWT's documentation places under its API (`intake/webhooks.py` serves them)."""

from fieldstation import networks
from fieldstation.intake.webhooks import Webhooks

WEBHOOKS: Webhooks = {
    "/lora": networks.AWT,
    "/ttn-webhook": networks.TTN,
    "/chirpstack": networks.CHIRPSTACK,
    "/actility": networks.ACTILITY,
}
"""The AWT seed's uplink paths, and the network server whose webhook each takes."""
