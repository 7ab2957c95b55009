"""The demo project: a handful of collared animals in southern Africa sending hourly AWT fixes.

Every fix is a pure function of the tag and the hour, so the story continues across restarts without
keeping state: the hub back-fills the hours it was not running (at most a week) and adds one fix an hour
while it runs. The frames go through the same decoding and storage as a real uplink, including a few that
arrive truncated and become readings with `error` set.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from fieldstation.codecs import awt_frame
from fieldstation.core.clock import MICROS
from fieldstation.core.hub import Hub
from fieldstation.core.models import Device, NewDevice, NewUplink, Project

HOUR_S = 3600
HISTORY_HOURS = 7 * 24
KM_PER_DEGREE = 111.32
DELIVERY_DELAY_S = 150
"""A fix reaches the hub this long after the tag took it (LoRa queueing and network-server hops)."""
CORRUPTION_ONE_IN = 45
"""About one frame in this many arrives truncated: a real radio link loses bytes."""


@dataclass(frozen=True, slots=True)
class Animal:
    tag_id: int
    eui: str
    name: str
    asset: str
    home_latitude: float
    home_longitude: float
    range_km: float
    """How far from the centre of its home range the animal wanders."""
    battery_v: float
    """Battery voltage when the collar was fitted."""
    drain_v_per_day: float
    altitude_m: int


ANIMALS: tuple[Animal, ...] = (
    Animal(1337, "A0C9B00000794AB5", "Tembo", "Savannah Elephant", -24.0117, 31.4853, 14.0, 3.93, 0.004, 290),
    Animal(1338, "A0C9B00000794AB6", "Nandi", "Savannah Elephant", -19.1786, 23.4531, 18.0, 3.88, 0.009, 950),
    Animal(2041, "A0C9B00000795A01", "Kali", "Black Rhinoceros", -18.9220, 16.3345, 6.0, 3.79, 0.022, 1080),
    Animal(3107, "A0C9B0000079B3C7", "Shaka", "Lion", -18.7305, 26.9542, 9.0, 3.86, 0.006, 1040),
    Animal(4410, "A0C9B0000079C1F2", "Zuri", "Giraffe", -25.7306, 28.2194, 4.0, 3.91, 0.003, 1530),
)


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _offset_km(animal: Animal, t: float) -> tuple[float, float]:
    """Position relative to the home-range centre at time t (seconds): a sum of slow loops, so that
    consecutive fixes are a plausible walk and the whole stays within the home range."""
    north = east = 0.0
    for k, period_days in enumerate((0.97, 3.3, 8.9, 21.0)):
        weight = animal.range_km / (k + 2)
        phase_n = 2 * math.pi * _unit(animal.tag_id, k, "n")
        phase_e = 2 * math.pi * _unit(animal.tag_id, k, "e")
        omega = 2 * math.pi / (period_days * 86_400)
        north += weight * math.sin(omega * t + phase_n)
        east += weight * math.cos(omega * t * 1.07 + phase_e)
    return north, east


def fix_for(animal: Animal, fitted_s: int, hour: int) -> tuple[int, bytes]:
    """The fix the animal's collar sends for `hour` (hours since the epoch): its time and frame."""
    fix_time = hour * HOUR_S + int(_unit(animal.tag_id, hour, "jitter") * 90)
    north, east = _offset_km(animal, fix_time)
    prev_north, prev_east = _offset_km(animal, fix_time - HOUR_S)
    speed = math.hypot(north - prev_north, east - prev_east)  # km in the last hour
    latitude = animal.home_latitude + north / KM_PER_DEGREE
    longitude = animal.home_longitude + east / (KM_PER_DEGREE * math.cos(math.radians(animal.home_latitude)))
    days_fitted = max(0.0, (fix_time - fitted_s) / 86_400)
    voltage = max(3.0, animal.battery_v - animal.drain_v_per_day * days_fitted)
    hour_of_day = (fix_time // HOUR_S + 2) % 24  # southern Africa is UTC+2
    temperature = round(22 + 9 * math.sin((hour_of_day - 9) / 24 * 2 * math.pi) + 3 * _unit(hour, "t") - 1.5)
    moving = speed > 0.4
    shake = int(2000 * min(speed, 5))
    frame = awt_frame.encode(
        tag_id=animal.tag_id,
        fix_time=fix_time,
        latitude=latitude,
        longitude=longitude,
        voltage=voltage,
        payload_type=awt_frame.TYPE_ALTITUDE,
        counter=hour % 256,
        alarms=0x20 | (0x02 if voltage < 3.55 else 0),
        retries=1 if _unit(animal.tag_id, hour, "retry") < 0.08 else 0,
        hdop_raw=1 + int(_unit(animal.tag_id, hour, "hdop") * 3),
        movement=moving,
        speed=min(255, round(speed)),
        message_key=hour % 251,
        accelerometer=(
            int((_unit(hour, "x") - 0.5) * shake),
            int((_unit(hour, "y") - 0.5) * shake),
            -9800 + int((_unit(hour, "z") - 0.5) * shake),
        ),
        temperature=temperature,
        altitude=animal.altitude_m + int(40 * math.sin(north)),
    )
    if _unit(animal.tag_id, hour, "corrupt") < 1 / CORRUPTION_ONE_IN:
        frame = frame[: 18 + int(_unit(animal.tag_id, hour, "cut") * 12)]
    return fix_time, frame


class Demo:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._clock = hub.clock

    async def populate(self, project: Project) -> list[Device]:
        """Fit the collars a week ago and back-fill their fixes up to now."""
        manufactured_s = self._clock.now_us() // MICROS - 200 * 86_400
        devices = []
        for animal in ANIMALS:
            devices.append(
                await self._hub.devices.add(
                    project,
                    NewDevice(
                        name=animal.name,
                        tag_id=animal.tag_id,
                        eui=animal.eui,
                        asset=animal.asset,
                        software_version=70,
                        manufactured_us=manufactured_s * MICROS,
                    ),
                )
            )
        await self.catch_up(project)
        return devices

    async def catch_up(self, project: Project) -> int:
        """Add every fix due since the last stored one (a week at most); returns how many were added."""
        now_s = self._clock.now_us() // MICROS
        added = 0
        for device in await self._hub.devices.list(project):
            animal = next((a for a in ANIMALS if a.tag_id == device.tag_id), None)
            if animal is None:
                continue
            last_us = await self._hub.readings.latest_device_time(device)
            first_hour = now_s // HOUR_S - HISTORY_HOURS + 1
            if last_us is not None:
                first_hour = max(first_hour, last_us // MICROS // HOUR_S + 1)
            fitted_s = device.created_us // MICROS - HISTORY_HOURS * HOUR_S
            history: list[tuple[NewUplink, int]] = []
            for hour in range(first_hour, now_s // HOUR_S + 1):
                fix_time, frame = fix_for(animal, fitted_s, hour)
                received_s = fix_time + DELIVERY_DELAY_S
                if received_s > now_s:
                    break
                uplink = NewUplink(
                    source="demo",
                    payload=frame,
                    received_us=received_s * MICROS,
                    eui=device.eui,
                    f_cnt=hour % 65_536,
                    f_port=1,
                )
                history.append((uplink, received_s * MICROS + 1_000))
            await self._hub.ingestor.backfill(device, history)
            added += len(history)
        return added
