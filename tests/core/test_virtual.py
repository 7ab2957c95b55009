"""Virtual devices share one tick across projects: one that cannot produce must not stop the others."""

from __future__ import annotations

from fieldstation.core.models import NewDevice
from tests.conftest import Harness


def test_a_broken_virtual_device_does_not_stop_the_others(harness: Harness) -> None:
    healthy_project = harness.project("healthy").project
    broken_project = harness.project("broken").project
    virtual = NewDevice(name="v", device_type="Virtual", codec="json", is_virtual=True, demo_active=True)
    healthy = harness.run(lambda: harness.hub.devices.add(healthy_project, virtual))
    broken = harness.run(lambda: harness.hub.devices.add(broken_project, virtual))
    # A frequency stored before the hub refused such values: its next tick is past what the store can hold.
    harness.run(lambda: harness.hub.devices.update(broken, frequency_s=2**62))
    assert harness.run(harness.hub.virtual.tick) == 1
    harness.clock.advance(healthy.frequency_s)
    assert harness.run(harness.hub.virtual.tick) == 1
    assert len(harness.run(lambda: harness.hub.devices.recent_readings(healthy))) == 2
    assert harness.run(lambda: harness.hub.devices.recent_readings(broken)) == []
