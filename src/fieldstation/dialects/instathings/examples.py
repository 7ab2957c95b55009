"""The Instathings documentation's own examples of successful answers, by operation, for `openapi.json`
(description.py). Verbatim from the seed (`../shared/seeds/002_*.txt`, line numbers below), as data; where
the seed's block is not valid JSON only its syntax was mended, as each entry's comment says.

`POST /device/v1/devices` has no example in the seed. The data endpoint's second example in the seed (an
on-premise gateway's, with `_id` and text times) is not the cloud's, and is left out."""

from __future__ import annotations

from typing import Any

SEED_EXAMPLES: dict[str, Any] = {
    # Seed line 27.
    # Syntax fixes (seed block was not valid JSON):
    #   - removed trailing comma after the "access_token" value (seed line 28)
    "POST /authentication/v1/oauth/token": {
        "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    },
    # Seed line 441.
    "GET /device/v1/protocols/{protocol_id}": {"id": "vRy6GTde", "name": "Zigbee", "slug": "zigbee"},
    # Seed line 464.
    # Syntax fixes (seed block was not valid JSON):
    #   - seed line 493: removed the placeholder element `, { ... }` (meaning "more types") from the end of the array
    "GET /device/v1/types": [
        {
            "addOn": "@instathings/gate-addon-zigbee",
            "description": "Hue white and color ambiance",
            "fakeSampleLabel": "onoff",
            "id": "4023br5d-9f88-4f31-97c2-0e682aef543f",
            "manufacturer": "Philips",
            "model": "9290012573A",
            "pairingMethods": ["touchlink"],
            "physicalParameter": [],
            "protocols": ["vRy6GTde"],
            "rooms": [
                "closed-office",
                "meeting-room",
                "toilet",
                "archive",
                "living-room",
                "bedroom",
                "kitchen",
                "open-space",
            ],
            "space": ["workspace", "home"],
            "type": "sensor",
        },
    ],
    # Seed line 506.
    "GET /device/v1/types/{type_id}": {
        "addOn": "@instathings/gate-addon-zigbee",
        "description": "Hue white and color ambiance",
        "fakeSampleLabel": "onoff",
        "id": "4023br5d-9f88-4f31-97c2-0e682aef543f",
        "manufacturer": "Philips",
        "model": "9290012573A",
        "pairingMethods": ["touchlink"],
        "physicalParameter": [],
        "protocols": ["vRy6GTde"],
        "rooms": [
            "closed-office",
            "meeting-room",
            "toilet",
            "archive",
            "living-room",
            "bedroom",
            "kitchen",
            "open-space",
        ],
        "space": ["workspace", "home"],
        "type": "sensor",
    },
    # Seed line 51.
    # Seed shows this array directly after the curl, without a "The above command returns" line.
    "GET /device/v1/devices": [
        {
            "projectId": "77JTOK6B",
            "ts": 1579184185884,
            "isVirtual": True,
            "demoActive": False,
            "id": "iIrGFfgU",
            "isGateway": False,
            "name": "device1",
        },
        {
            "projectId": "77JTOK6B",
            "ts": 1579596302698,
            "subDevices": ["A1Owj4Eu"],
            "isVirtual": True,
            "demoActive": False,
            "id": "Wcganw3s",
            "isGateway": True,
            "name": "device2",
        },
        {
            "projectId": "77JTOK6B",
            "ts": 1579596309570,
            "isVirtual": True,
            "demoActive": False,
            "parentDevice": "Wcganw3s",
            "id": "A1Owj4Eu",
            "isGateway": False,
            "name": "doc",
        },
    ],
    # Seed line 90.
    "GET /device/v1/devices/{device_id}": {
        "projectId": "77JTOK6B",
        "ts": 1579596302698,
        "isVirtual": True,
        "subDevices": [
            {
                "projectId": "77JTOK6B",
                "ts": 1579596309570,
                "isVirtual": True,
                "demoActive": False,
                "parentDevice": "Wcganw3s",
                "id": "A1Owj4Eu",
                "isGateway": False,
                "name": "doc",
            },
        ],
        "demoActive": False,
        "id": "Wcganw3s",
        "isGateway": True,
        "name": "doctest",
    },
    # Seed line 222.
    "PATCH /device/v1/devices/{device_id}": {},
    # Seed line 246.
    "DELETE /device/v1/devices/{device_id}": {},
    # Seed line 263.
    # The seed's endpoint line for this section (seed line 265) wrongly repeats DELETE /device/v1/devices/:deviceId;
    # the curl (seed line 259) shows the subDevice path, which is what this entry is matched on.
    "DELETE /devices/{parent_id}/subDevice/subDevices/{device_id}": {},
    # Seed line 126.
    # Section "Generate device certificate": the endpoint line (seed line 149) says POST, but the
    # curl above the example (seed line 121) has no -X flag, i.e. a GET. The same example is therefore
    # listed under both POST and GET. Per the seed this JSON is the sandbox response; in live mode the
    # endpoint returns application/zip instead (seed lines 124, 151-153).
    "POST /devices/{device_id}/credentials/certificate": {
        "certificateId": "bce989d7b311d4ec5586de576143be60007f48763d6d93bd556daa37e8e66d46",
        "credentials": {
            "certificatePem": "-----BEGIN CERTIFICATE-----\ncontent\n-----END CERTIFICATE-----\n",
            "privateKey": "-----BEGIN RSA PRIVATE KEY-----\ncontent\n-----END RSA PRIVATE KEY-----\n",
            "publicKey": "-----BEGIN PUBLIC KEY-----\ncontent\n-----END PUBLIC KEY-----\n",
        },
        "demoActive": False,
        "env": "sandbox",
        "id": "q6NJl1-_",
        "isGateway": True,
        "name": "wrt5ery",
        "projectId": "9fpNZ42V",
        "protocols": ["IuYtREd0", "R2Jh6IhT", "vRy6GTde"],
        "subDevices": [],
        "ts": 1581934276542,
        "type": "4023bd5d-9f88-4761-97c2-0e682ayf5437",
    },
    # Seed line 126.
    # Same seed block as the POST entry above (see the note there): the seed's curl for this example is a GET.
    "GET /devices/{device_id}/credentials/certificate": {
        "certificateId": "bce989d7b311d4ec5586de576143be60007f48763d6d93bd556daa37e8e66d46",
        "credentials": {
            "certificatePem": "-----BEGIN CERTIFICATE-----\ncontent\n-----END CERTIFICATE-----\n",
            "privateKey": "-----BEGIN RSA PRIVATE KEY-----\ncontent\n-----END RSA PRIVATE KEY-----\n",
            "publicKey": "-----BEGIN PUBLIC KEY-----\ncontent\n-----END PUBLIC KEY-----\n",
        },
        "demoActive": False,
        "env": "sandbox",
        "id": "q6NJl1-_",
        "isGateway": True,
        "name": "wrt5ery",
        "projectId": "9fpNZ42V",
        "protocols": ["IuYtREd0", "R2Jh6IhT", "vRy6GTde"],
        "subDevices": [],
        "ts": 1581934276542,
        "type": "4023bd5d-9f88-4761-97c2-0e682ayf5437",
    },
    # Seed line 167.
    # Cloud example. The seed has a second, different example for the same path under
    # "On-premise REST API" (seed line 955, served by the gateway's local web server); it is not used here.
    "GET /device/v1/devices/{device_id}/data": {
        "data": [
            {
                "ts": 1579597755184,
                "deviceId": "A1Owj4Eu",
                "data": {"value": 33, "isVirtualData": True},
                "ttl": 1579684155,
                "principal": "9a5e146441177cd658b7d96d7156c0564e1a141ef3dad396c6dea44284c68c86",
                "id": "99f85da2-aabf-4bcd-9c42-3804bde1cd61",
                "clientId": "N/A",
            },
            {
                "ts": 1579597694912,
                "deviceId": "A1Owj4Eu",
                "data": {"value": 88, "isVirtualData": True},
                "ttl": 1579684094,
                "principal": "9a5e146441177cd658b7d96d7156c0564e1a141ef3dad396c6dea44284c68c86",
                "id": "edc8d01e-0ad4-43ed-bd12-343719b297da",
                "clientId": "N/A",
            },
        ],
        "totalItems": 2,
    },
    # Seed line 399.
    # Syntax fixes (seed block was not valid JSON):
    #   - seed line 401: key written `"type: "LOG"` (missing closing quote on the key) -> `"type": "LOG"`
    #   - seed line 401: removed the trailing comment `// type can be either LOG or ERR`
    #   - seed line 407: key written `"type: "LOG"` -> `"type": "LOG"`
    "GET /device/v1/devices/{device_id}/{container_id}/logs": [
        {
            "timestamp": 1586861375901,
            "type": "LOG",
            "message": "2020-04-14T10:49:35.884Z gate Connecting...\n",
            "ingestionTime": 1586861382077,
        },
        {
            "timestamp": 1586861375901,
            "type": "LOG",
            "message": "2020-04-14T10:49:35.886Z gate Subscribing to staging-discover/qw9qxyV_U/staging-bErr2i6qv/device/post\n",
            "ingestionTime": 1586861382077,
        },
    ],
    # Seed line 283.
    "POST /device/v1/control/{device_id}/set": {},
    # Seed line 326.
    # The seed also says the status code is 202 with a Location header to poll (seed line 332).
    "POST /device/v1/control/{device_id}/status": {},
    # Seed line 363.
    "GET /device/v1/control/{request_id}/fetch": {
        "projectId": "jmdpqpZf",
        "response": {
            "state": "ON",
            "brightness": 254,
            "color": {"x": 0.3068, "y": 0.4143},
            "linkquality": 110,
            "color_temp": 155,
        },
        "ttl": 1583243464,
        "deviceId": "BSQuiDVl",
        "id": "IVdtfGYi",
    },
}

# Operations with no response example in the seed:
#   POST /device/v1/devices  (not documented at all in the seed)
#
# Seed line where each included example starts:
#     27  POST /authentication/v1/oauth/token
#    441  GET /device/v1/protocols/{protocol_id}
#    464  GET /device/v1/types
#    506  GET /device/v1/types/{type_id}
#     51  GET /device/v1/devices
#     90  GET /device/v1/devices/{device_id}
#    222  PATCH /device/v1/devices/{device_id}
#    246  DELETE /device/v1/devices/{device_id}
#    263  DELETE /devices/{parent_id}/subDevice/subDevices/{device_id}
#    126  POST /devices/{device_id}/credentials/certificate
#    126  GET /devices/{device_id}/credentials/certificate
#    167  GET /device/v1/devices/{device_id}/data
#    399  GET /device/v1/devices/{device_id}/{container_id}/logs
#    283  POST /device/v1/control/{device_id}/set
#    326  POST /device/v1/control/{device_id}/status
#    363  GET /device/v1/control/{request_id}/fetch
