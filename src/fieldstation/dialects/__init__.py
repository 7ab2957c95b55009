"""The vendor APIs. Each dialect is a package with the same contract, parses requests into core calls and
renders core objects in its vendor's exact wire format. No dialect imports another.

    MOUNT                       its base path, e.g. "/awt/v2"
    MAX_BODY_BYTES              the largest request body it takes (larger ones are refused unread)
    door_error(status, message, headers)
                                an error response in its own shape, for what the front door refuses
    RATE_POLICY                 its fair-usage table: group -> seconds between calls of one key
    create_app(hub_ref)         its ASGI app, mounted at MOUNT
    front(app, hub_ref, mount)  optional: an ASGI front placed before the whole application, for paths
                                too hot for the framework's per-request machinery
"""
