"""What a reader's group said about letting it in: a refusal is explained once, in msgbus's terms."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError

from ... import _log
from ..._config import MsgBusConfig
from ._errors import describe


class Membership:
    """Watches the consumer's errors for the group refusing this member.

    ``saw`` runs on the consumer thread only; ``refused`` on any. The text is
    written once, before the Event is set, and read only after it is seen set,
    so the Event orders the two.
    """

    def __init__(self, cfg: MsgBusConfig, group_id: str) -> None:
        self._protocol = cfg.group_protocol
        self._group = group_id
        self._topic = cfg.topic
        self._reason = ""
        self._refused = threading.Event()

    @property
    def refused(self) -> str | None:
        """Why the group refused this reader, once it did; None until then."""
        return self._reason if self._refused.is_set() else None

    def saw(self, err: Any) -> None:
        """One error from consume(): a refusal of membership is explained (once)."""
        if self._refused.is_set() or err.code() != KafkaError.INCONSISTENT_GROUP_PROTOCOL:
            return
        self._reason = (
            f"group {self._group!r} on topic {self._topic} refused this reader ({describe(err)}): its members "
            f'offer no partition assignment that group_protocol="{self._protocol}" offers. Readers built on '
            "the Go msgbus offer only the classic eager assignors; to share a group with them use "
            'group_protocol="classic" (or "consumer" on Kafka 4 brokers). See docs/rebalances.md'
        )
        self._refused.set()
        _log.logger().error("%s", self._reason)
