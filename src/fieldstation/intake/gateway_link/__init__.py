"""The hub's end of the gateways' MQTT link: the broker's credentials (`pki`), the embedded broker
(`embedded`), a Mosquitto configuration (`mosquitto`), and the hub's client that turns the gateways'
messages into core calls and takes the core's messages down to them (`client`)."""
