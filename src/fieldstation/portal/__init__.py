"""The web portal: operators sign in to see their projects' tracks on a map, their devices and gateways, the
projects' credentials and settings, and to download exports. Server-rendered pages, a little JavaScript for
the map, the plots and live updates; every asset served by the hub itself (no CDN: it works offline).

It calls the core services, like a dialect, and never the store."""

from fieldstation.portal.app import MOUNT, create_portal

__all__ = ["MOUNT", "create_portal"]
