"""The gateway's on-premise API (ON_PREMISE_ENABLED): its devices' data over REST and events over socket.io,
served by the agent itself on ON_PREMISE_PORT, with or without the cloud (docs/gateway.md)."""
