"""The gateway agent (`fieldstation gateway run`): it connects to the hub over the MQTT link with its
certificate, pairs devices through its adapters, forwards their data through an outbox on disk with
nothing lost, obeys control and status requests, and streams its logs.

- `config`: the bundle's `.env` and the command line, as one `AgentConfig`.
- `outbox`: records on disk until the hub acknowledges them; the paired devices and installed protocols.
- `link`: the agent's MQTT client (session, last will, batches and acknowledgements).
- `adapters/`: one module per protocol (virtual, http, mqtt), all of one shape (`adapters.base`).
- `agent`: the agent itself, wiring the above; the on-premise API plugs in as another sink of records.
"""
