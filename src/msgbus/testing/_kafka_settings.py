"""``librdkafka_settings``: what msgbus's Kafka backend configures librdkafka with, for a raw client to copy."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from .._backends import kafka
from .._backends.kafka._settings import consumer_settings, producer_settings
from .._config import BlockingMode, BusDir, MsgBusConfig, MsgBusTech
from .._errors import ConfigError

__all__ = ["librdkafka_settings"]

# Python objects, not settings: a raw client brings its own.
_CALLBACKS = ("logger", "error_cb")


def librdkafka_settings(cfg: MsgBusConfig) -> dict[str, Any]:
    """The librdkafka settings msgbus gives the client it opens for ``cfg``, without its callbacks.

    A writer's are a ``confluent_kafka.Producer``'s, a reader's a ``Consumer``'s. For a reader
    without a ``group_id`` they name a fresh private group and commit nothing, as msgbus's reader
    does. Use them to run a raw client exactly as msgbus would (``bench/`` does, so that each
    ratio it reports is msgbus's own cost). Raises ``ConfigError`` for a config ``connect()``
    would refuse, or one whose ``bus_tech`` is not Kafka.
    """
    cfg.validate()
    checked = dataclasses.replace(
        cfg,
        bus_tech=MsgBusTech(cfg.bus_tech),
        blocking=BlockingMode(cfg.blocking),
        direction=BusDir(cfg.direction),
    )
    if checked.bus_tech is not MsgBusTech.KAFKA:
        raise ConfigError(f"librdkafka_settings needs a Kafka config, not bus_tech={checked.bus_tech.name}")
    kafka.validate(checked)  # the Kafka fields as the backend normalizes them

    def ignore(_error: Any) -> None:
        pass

    if checked.direction is BusDir.WRITER:
        settings = producer_settings(checked, ignore)
    else:
        group_id = checked.group_id or f"msgbus-{checked.topic}-{uuid.uuid4().hex}"
        settings = consumer_settings(checked, group_id, bool(checked.group_id), ignore)
    return {key: value for key, value in settings.items() if key not in _CALLBACKS}
