"""The MQTT link between the hub and its gateways: the contract both ends share (topics, payloads, the
certificate identity a broker checks). Neither end's code lives here: `intake.gateway_link` is the hub's,
`gateway` the agent's."""
