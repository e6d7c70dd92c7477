"""Where a consumer group stands on a topic, asked of the brokers from outside (``msgbus lag``, ``msgbus health``).

A consumer that never joins the group: it reads the group's committed offsets
and each partition's end, and closes. Nothing is read or committed.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition

from ..._config import MsgBusConfig
from ..._errors import ConnectError
from ..._ops.metrics import PartitionLag
from ._errors import ErrorWatch, create_client, describe
from ._settings import bootstrap_servers, group_lag_settings


def group_lag(cfg: MsgBusConfig, group: str, timeout: float) -> list[PartitionLag]:
    """Each partition of ``cfg.topic``: the group's committed offset, the end, and the lag between them.

    A partition the group never committed has ``committed`` and ``lag`` None.
    ``ConnectError`` when no broker answers within ``timeout`` or the topic does not exist.
    """
    errors = ErrorWatch(f"lag of group {group} on {cfg.topic}")
    consumer = create_client(Consumer, group_lag_settings(cfg, group, errors))
    try:
        try:
            metadata = consumer.list_topics(cfg.topic, timeout=timeout)
            topic = metadata.topics.get(cfg.topic)
            if topic is None or topic.error is not None or not topic.partitions:
                reason = describe(topic.error) if topic is not None and topic.error is not None else "no partitions"
                raise ConnectError(f"topic {cfg.topic} on {bootstrap_servers(cfg)}: {reason}")
            wanted = [TopicPartition(cfg.topic, p) for p in sorted(topic.partitions)]
            committed = consumer.committed(wanted, timeout=timeout)
            out = []
            for tp in committed:
                _, end = consumer.get_watermark_offsets(TopicPartition(cfg.topic, tp.partition), timeout=timeout)
                done = tp.offset if tp.offset >= 0 else None
                out.append(PartitionLag(tp.partition, done, end, None if done is None else max(0, end - done)))
            return out
        except KafkaException as exc:
            raise ConnectError(
                f"no answer from {bootstrap_servers(cfg)} about group {group} on {cfg.topic}: {describe(exc.args[0])}"
            ) from None
    finally:
        consumer.close()
