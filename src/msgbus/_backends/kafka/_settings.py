"""The one place where a MsgBusConfig becomes librdkafka settings.

Every Kafka client msgbus creates gets its configuration from here, so the
choices below (and the reasons for them) are all in one file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..._config import BlockingMode, MsgBusConfig
from ..._log import LOG_PROXY
from ..._version import __version__
from ._config import SECURITY

Settings = dict[str, Any]
ErrorCallback = Callable[[Any], None]

CLIENT_ID = f"msgbus-python/{__version__}"


# librdkafka's integer settings are 32-bit; larger values wrap (possibly to 0, "no limit").
_MAX_MS = 2**31 - 1
# NonBlocking writers let messages batch this long.
_NON_BLOCKING_LINGER_MS = 5


# How a named group shares partitions, per MsgBusConfig.group_protocol (docs/rebalances.md).
GROUP_PROTOCOLS: dict[str, Settings] = {
    # librdkafka's defaults, spelled out: what the Go original's readers offer, so that
    # they and msgbus readers can share a group. Every rebalance revokes everything.
    "classic": {"group.protocol": "classic", "partition.assignment.strategy": "range,roundrobin"},
    # Only the partitions that move stop. A member offering only this cannot join a
    # group of members offering only eager assignors (INCONSISTENT_GROUP_PROTOCOL).
    "classic-cooperative": {"group.protocol": "classic", "partition.assignment.strategy": "cooperative-sticky"},
    # KIP-848: the broker assigns, and the group's timeouts are the broker's
    # (librdkafka refuses session.timeout.ms here).
    "consumer": {"group.protocol": "consumer"},
}
# The classic protocol's session: a member that stops heartbeating is out after this (the Go original's).
_SESSION_TIMEOUT_MS = 10000


def incremental(cfg: MsgBusConfig) -> bool:
    """Do rebalance callbacks get only what changed (incremental_assign/unassign), not the whole assignment?"""
    return GROUP_PROTOCOLS[cfg.group_protocol].get("partition.assignment.strategy") != "range,roundrobin"


def bootstrap_servers(cfg: MsgBusConfig) -> str:
    if cfg.bootstrap_servers:
        return ",".join(entry.strip() for entry in cfg.bootstrap_servers.split(","))
    host = cfg.host
    if ":" in host and not host.startswith("["):
        # An IPv6 literal: without brackets librdkafka takes "::1:9092" for a host
        # "::1:9092" with the default port.
        host = f"[{host}]"
    return f"{host}:{cfg.port}"


def _ms(seconds: float) -> int:
    """Seconds as librdkafka milliseconds: at least 1 (0 often means "no limit"), at most 2**31-1."""
    return max(1, min(math.ceil(seconds * 1000), _MAX_MS))


def _security(cfg: MsgBusConfig) -> Settings:
    # security.protocol always (validation made it one of its choices), the others when given.
    return {field.setting: getattr(cfg, name) for name, field in SECURITY.items() if getattr(cfg, name)}


def _finish(settings: Settings, cfg: MsgBusConfig) -> Settings:
    """The user's extra librdkafka settings go last: they may tune anything msgbus does not own."""
    settings.update(cfg.kafka_settings)
    return settings


def _common(cfg: MsgBusConfig, error_cb: ErrorCallback) -> Settings:
    return _security(cfg) | {
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
            "message.timeout.ms": _ms(cfg.write_timeout),
        }
    )
    if cfg.blocking is BlockingMode.BLOCKING:
        # One message at a time, waited for: batching would only add latency.
        settings["linger.ms"] = 0
    else:
        # Fire and forget: let messages batch for throughput. Only failures
        # need a report; successes are counted from the queue's length.
        # librdkafka refuses a linger.ms that is not below message.timeout.ms.
        settings["linger.ms"] = min(_NON_BLOCKING_LINGER_MS, settings["message.timeout.ms"] - 1)
        settings["delivery.report.only.error"] = True
    return _finish(settings, cfg)


def admin_settings(cfg: MsgBusConfig, error_cb: ErrorCallback) -> Settings:
    """For the AdminClient a reader's ``healthy()`` probes with (a consumer is not thread-safe)."""
    settings = _common(cfg, error_cb)
    # The user's extra settings may be consumer-only; an AdminClient would refuse
    # or warn about them, and none of them matters to a metadata request.
    return settings


def consumer_settings(
    cfg: MsgBusConfig,
    group_id: str,
    commits: bool,
    error_cb: ErrorCallback,
    on_commit: Callable[[Any, list[Any]], None] | None = None,
) -> Settings:
    settings = _common(cfg, error_cb)
    if on_commit is not None:
        # The results of the background commits, for metrics() (time since the last commit, per partition).
        settings["on_commit"] = on_commit
    settings.update(
        {
            "group.id": group_id,
            # The Go package starts new groups at the end of the topic ("latest").
            "auto.offset.reset": cfg.offset_reset,
            # At-least-once: the reader stores a message's offset only after the
            # application has read it (or its callback returned); librdkafka then
            # commits stored offsets in the background and on close.
            "enable.auto.commit": commits,
            "enable.auto.offset.store": False,
            # How often they are committed: what a crashed reader's successor
            # reads again is at most what it finished in the last second
            # (librdkafka's default, 5 s, made that five times larger).
            "auto.commit.interval.ms": 1000,
            # Subscribing creates the topic where the broker allows it, as writing does.
            "allow.auto.create.topics": True,
            # How soon a group sees partitions added to its topic (and so reads them):
            # librdkafka's default looks every 5 minutes.
            "topic.metadata.refresh.interval.ms": 5000,
            "enable.partition.eof": False,
            # Bound librdkafka's prefetch (64 MB by default): the reader's own
            # queue is what holds a backlog, and it is bounded.
            "queued.max.messages.kbytes": 8192,
            "fetch.wait.max.ms": 100,
            # With the prefetch bounded this low, librdkafka's default 1 s pause
            # of fetching once it is full would leave a fast reader idle.
            "fetch.queue.backoff.ms": 20,
        }
    )
    settings.update(GROUP_PROTOCOLS[cfg.group_protocol])
    if settings["group.protocol"] == "classic":
        settings["session.timeout.ms"] = _SESSION_TIMEOUT_MS
    return _finish(settings, cfg)


def group_lag_settings(cfg: MsgBusConfig, group_id: str, error_cb: ErrorCallback) -> Settings:
    """For ``msgbus lag`` and ``msgbus health``: a consumer that only asks for a group's commits and
    the partitions' ends; it never joins the group, reads or commits."""
    settings = _common(cfg, error_cb)
    settings.update({"group.id": group_id, "enable.auto.commit": False, "enable.auto.offset.store": False})
    return _finish(settings, cfg)
