"""A reader's status follows what its client knows: a fatal error closes it, as it does a writer."""

from __future__ import annotations

import uuid

from .helpers import BusFactory, wait_until


def test_a_fenced_static_member_reports_closed(buses: BusFactory, topic: str) -> None:
    # Static membership (a user's kafka_settings): a second member with the same
    # group.instance.id fences the first, a fatal error for its consumer (issue 18: its
    # status() said open for ever, while it read nothing any more).
    group = f"g-{uuid.uuid4().hex[:8]}"
    settings = {"group.instance.id": f"static-{uuid.uuid4().hex[:8]}"}
    first = buses.reader(topic, group_id=group, kafka_settings=settings)
    assert first.status().name == "OPEN"
    second = buses.reader(topic, group_id=group, kafka_settings=settings, connect_timeout=20)

    # One of the two is fenced (which one depends on who heartbeats first after the join).
    def statuses() -> list[str]:
        return sorted(bus.status().name for bus in (first, second))

    wait_until(lambda: statuses() == ["CLOSED", "OPEN"], 60, "the fenced reader to report closed")
    fenced = first if first.status().name == "CLOSED" else second
    assert not fenced.healthy()
