"""A Go reader (the Go original's settings: classic protocol, range/roundrobin) and a msgbus reader in one
group, under each of msgbus's group protocols, each joining first. What mixes (docs/rebalances.md):

* "classic" (the default): both offer the eager assignors; the group splits the partitions.
* "classic-cooperative": no assignor in common; whoever joins second is refused
  (INCONSISTENT_GROUP_PROTOCOL). A refused msgbus reader's connect() says so at once.
* "consumer" (KIP-848, Kafka 4 brokers): the broker takes classic members into a consumer group
  (and turns a classic group into one when a consumer-protocol member joins it).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from integration.helpers import BusFactory, make_config

import msgbus
from msgbus.testing import LocalKafka

from .test_peers import GoReader, msgbus_write, start_at_beginning, wait_for
from .test_peers import buses as buses
from .test_peers import gopeer as gopeer

pytestmark = [pytest.mark.integration, pytest.mark.interop, pytest.mark.slow]

_PARTITIONS = 4
_TOTAL = 200
REFUSED = r'INCONSISTENT_GROUP_PROTOCOL.*group_protocol="classic"'
MIXES = {"classic": True, "classic-cooperative": False, "consumer": True}


def _owns_some(assignments: list[str]) -> bool:
    return bool(assignments) and assignments[-1] not in ("assigned []", f"assigned {list(range(_PARTITIONS))}")


@pytest.mark.parametrize("first", ["go", "msgbus"])
@pytest.mark.parametrize("protocol", list(MIXES))
def test_a_go_reader_in_a_msgbus_group(
    gopeer: Path,
    kafka: LocalKafka,
    buses: BusFactory,
    topic: str,
    protocol: str,
    first: str,
) -> None:
    kafka.create_topic(topic, partitions=_PARTITIONS)
    group = f"mixed-{uuid.uuid4().hex[:8]}"
    start_at_beginning(kafka, topic, group, partitions=_PARTITIONS)
    cfg = make_config(kafka, topic, msgbus.BusReader, group_id=group, group_protocol=protocol, connect_timeout=15)
    go: GoReader | None = None
    reader: msgbus.MsgBusIO | None = None
    try:
        if first == "go":
            go = GoReader(gopeer, kafka, topic, group)
            wait_for(lambda: go is not None and bool(go.assignments), 60, "the Go reader's first assignment")
            if not MIXES[protocol]:
                started = time.monotonic()
                with pytest.raises(msgbus.ConnectError, match=REFUSED):
                    buses.connect(cfg)
                # At the first refusal, not after connect_retries x connect_timeout.
                assert time.monotonic() - started < 15
                return
            reader = buses.connect(cfg)
        else:
            reader = buses.connect(cfg)
            go = GoReader(gopeer, kafka, topic, group)
        if MIXES[protocol]:
            wait_for(lambda: go is not None and _owns_some(go.assignments), 60, f"the Go reader to share ({go.stderr})")
        else:
            wait_for(
                lambda: go is not None and any("Inconsistent group protocol" in line for line in go.stderr),
                60,
                "the group to refuse the Go reader",
            )
        sent = [f"mixed {i}" for i in range(_TOTAL)]
        msgbus_write(buses, topic, sent)
        ours: list[str] = []

        def drain() -> bool:
            assert reader is not None and go is not None
            while (msg := reader.message_read(timeout=0.05)) is not None:
                ours.append(msg)
            return len(ours) + len(go.messages) >= _TOTAL

        wait_for(drain, 60, f"all {_TOTAL} messages between the members")
        time.sleep(2)  # room for any duplicate to show up
        drain()
    finally:
        if go is not None:
            go.stop()
    theirs = [m.decode("utf-8") for m in go.messages]
    assert sorted(ours + theirs) == sorted(sent), "a message was lost or read twice"
    if MIXES[protocol]:
        assert ours and theirs, f"both members should read (msgbus {len(ours)}, Go {len(theirs)})"
    else:
        assert not theirs, "the refused Go reader read messages"
