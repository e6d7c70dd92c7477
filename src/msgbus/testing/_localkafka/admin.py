"""What LocalKafka asks a running cluster through an admin client.

Readiness is judged from cluster metadata, not from open ports: a broker
accepts connections before it has registered with the controller quorum.
A new topic is ready only once every partition has a leader, so a test
that writes right after creating it does not race the election.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .broker_props import _prop_value
from .processes import KafkaStartupError, _Node


def new_admin_client(bootstrap_servers: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(
        {
            "bootstrap.servers": bootstrap_servers,
            "log.connection.close": False,
            "reconnect.backoff.max.ms": 1000,
        },
        logger=logging.getLogger("msgbus.testing.librdkafka"),
    )


def wait_metadata(admin: Any, nodes: Sequence[_Node], deadline: float) -> None:
    """Wait until every live node is a broker in the metadata; raise KafkaStartupError
    if one of them exits or ``deadline`` passes."""
    from confluent_kafka import KafkaException

    expected = {n.node_id for n in nodes if n.alive()}
    last: object = None
    while True:
        try:
            md = admin.list_topics(timeout=5)
            brokers = set(md.brokers)
            if expected <= brokers:
                return
            last = f"brokers in metadata: {sorted(brokers)}, expected {sorted(expected)}"
        except KafkaException as exc:  # keep trying until the deadline
            last = exc
        for node in nodes:
            if node.node_id in expected and not node.alive():
                raise KafkaStartupError(f"Kafka node {node.node_id} exited during start-up:\n{node.diagnostics()}")
        if time.monotonic() > deadline:
            raise KafkaStartupError(f"cluster metadata not ready in time: {last}")
        time.sleep(0.2)


def partition_leader(admin: Any, topic: str, partition: int, timeout: float) -> int:
    """Node id of the current leader of ``topic``/``partition`` (-1: none)."""
    md = admin.list_topics(topic=topic, timeout=timeout)
    tmd = md.topics.get(topic)
    if tmd is None or tmd.error is not None:
        raise KeyError(f"topic {topic!r} not found: {tmd.error if tmd else 'no metadata'}")
    pmd = tmd.partitions.get(partition)
    if pmd is None:
        raise KeyError(f"topic {topic!r} has no partition {partition}")
    return int(pmd.leader)


def _create(admin: Any, new: Any, name: str, deadline: float) -> None:
    """Ask for ``new``, again after a client-side failure (a broker handle librdkafka replaced while
    the request was out, on a cluster just started): a broker's refusal is raised at once."""
    from confluent_kafka import KafkaError, KafkaException

    retried = False
    while True:
        try:
            futures = admin.create_topics([new], operation_timeout=max(0.1, deadline - time.monotonic()))
            futures[name].result(timeout=max(0.1, deadline - time.monotonic()))
            return
        except KafkaException as exc:
            err = exc.args[0]
            if retried and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return  # the earlier request did create it; only its answer was lost
            # Negative codes are librdkafka's own (local) errors; the broker's are positive.
            if err.code() >= 0 or time.monotonic() >= deadline:
                raise
            retried = True
            time.sleep(0.2)


def create_topic(
    admin: Any,
    name: str,
    partitions: int,
    replication_factor: int,
    config: Mapping[str, object] | None,
    timeout: float,
) -> None:
    """Create a topic and wait until every partition has a leader."""
    # The documented public home of NewTopic; confluent-kafka's own type hints
    # import it there from cimpl without marking it re-exported.
    from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]

    new = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config={k: _prop_value(v) for k, v in (config or {}).items()},
    )
    deadline = time.monotonic() + timeout
    _create(admin, new, name, deadline)
    while True:
        md = admin.list_topics(topic=name, timeout=timeout)
        tmd = md.topics.get(name)
        if (
            tmd is not None
            and tmd.error is None
            and len(tmd.partitions) == partitions
            and all(p.leader >= 0 for p in tmd.partitions.values())
        ):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {name!r} has no leader for every partition yet")
        time.sleep(0.1)
