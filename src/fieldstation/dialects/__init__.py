"""The vendor APIs. Each dialect is a package with the same contract (`MOUNT`, `RATE_POLICY`,
`create_app(hub_ref)`), parses requests into core calls and renders core objects in its vendor's exact
wire format. No dialect imports another."""
