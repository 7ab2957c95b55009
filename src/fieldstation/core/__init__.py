"""The domain: projects, credentials, devices, uplinks and readings, with no web framework or driver."""
