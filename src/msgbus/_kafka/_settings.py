"""The one place where a MsgBusConfig becomes librdkafka settings.

Every Kafka client msgbus creates gets its configuration from here, so the
choices below (and the reasons for them) are all in one file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._version import __version__
from .._config import BlockingMode, MsgBusConfig
from .._log import LOG_PROXY

Settings = dict[str, Any]
ErrorCallback = Callable[[Any], None]

CLIENT_ID = f"msgbus-python/{__version__}"


def bootstrap_servers(cfg: MsgBusConfig) -> str:
    return f"{cfg.host}:{cfg.port}"


def _common(cfg: MsgBusConfig, error_cb: ErrorCallback) -> Settings:
    return {
        "bootstrap.servers": bootstrap_servers(cfg),
        "client.id": CLIENT_ID,
        # librdkafka's own log lines go to msgbus's (swappable) logger.
        "logger": LOG_PROXY,
        "error_cb": error_cb,
        # Small request/response exchanges: don't let Nagle hold them back.
        "socket.nagle.disable": True,
        # Come back quickly after a broker restart, without hammering a dead one.
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 2000,
    }


def producer_settings(cfg: MsgBusConfig, error_cb: ErrorCallback) -> Settings:
    settings = _common(cfg, error_cb)
    settings.update(
        {
            # A write counts only once every in-sync replica has it; the
            # idempotent producer keeps retries from duplicating or reordering.
            "acks": "all",
            "enable.idempotence": True,
            # Upper bound on a message's life in the client, retries included:
            # past it the write fails with _MSG_TIMED_OUT instead of hanging.
            "message.timeout.ms": int(cfg.write_timeout * 1000),
        }
    )
    if cfg.blocking is BlockingMode.BLOCKING:
        # One message at a time, waited for: batching would only add latency.
        settings["linger.ms"] = 0
    else:
        # Fire and forget: let messages batch for throughput. Only failures
        # need a report; successes are counted from the queue's length.
        settings["linger.ms"] = 5
        settings["delivery.report.only.error"] = True
    return settings


def consumer_settings(cfg: MsgBusConfig, group_id: str, commits: bool, error_cb: ErrorCallback) -> Settings:
    settings = _common(cfg, error_cb)
    settings.update(
        {
            "group.id": group_id,
            # The Go package's choices: new groups start at the end of the topic.
            "auto.offset.reset": "latest",
            "session.timeout.ms": 10000,
            # At-least-once: the reader stores a message's offset only after the
            # application has read it (or its callback returned); librdkafka then
            # commits stored offsets in the background and on close.
            "enable.auto.commit": commits,
            "enable.auto.offset.store": False,
            # Subscribing creates the topic where the broker allows it, as writing does.
            "allow.auto.create.topics": True,
            "enable.partition.eof": False,
            # Bound librdkafka's prefetch (64 MB by default): the reader's own
            # queue is what holds a backlog, and it is bounded.
            "queued.max.messages.kbytes": 8192,
            "fetch.wait.max.ms": 100,
        }
    )
    return settings
