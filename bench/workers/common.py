"""What the workers share: payloads, percentiles, memory readings, and msgbus's config and
librdkafka settings for the raw clients (from ``msgbus.testing.librdkafka_settings``, so that
each ratio is msgbus's own cost)."""

from __future__ import annotations

import resource
import time
from typing import Any

import msgbus
from msgbus.testing import librdkafka_settings

from ..common import Args, Result


def payload(size: int) -> str:
    return ("0123456789abcdefghijklmnopqrstuvwxyz" * (size // 36 + 1))[:size]


def percentiles(values: list[float]) -> Result:
    values = sorted(values)
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}

    def at(q: float) -> float:
        return values[int(q * (len(values) - 1))]

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "p999_ms": at(0.999)}


def rss_mb() -> float:
    """The resident set size now (from /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so a worker would
    # report the peak of the (larger) bench process that started it.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def msgbus_config(
    a: Args, direction: msgbus.BusDir, blocking: msgbus.BlockingMode, **extra: Any
) -> msgbus.MsgBusConfig:
    return msgbus.MsgBusConfig(
        bootstrap_servers=str(a["bootstrap"]),
        topic=a["topic"],
        direction=direction,
        blocking=blocking,
        connect_retries=5,
        write_timeout=60,
        flush_timeout=60,
        **extra,
    )


def writer_settings(a: Args, blocking: msgbus.BlockingMode) -> dict[str, Any]:
    """The librdkafka settings of a msgbus writer of ``msgbus_config(a, ...)``."""
    return librdkafka_settings(msgbus_config(a, msgbus.BusWriter, blocking))


def private_reader_settings(a: Args) -> dict[str, Any]:
    """Those of a msgbus reader without a group (a fresh group, no commits), from the topic's start."""
    return librdkafka_settings(msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest"))


def flush_msgbus(bus: msgbus.MsgBusIO, timeout: float = 120.0) -> None:
    """Wait for the last delivery of a NonBlocking msgbus writer, without closing it.

    ``stats().queued`` is what librdkafka still holds (queued or awaiting its acknowledgement),
    the same count a raw producer's ``flush()`` waits on; looking every half millisecond adds at
    most that to a measurement of a second or more.
    """
    deadline = time.monotonic() + timeout
    while (stats := bus.stats()).queued:
        if time.monotonic() > deadline:
            raise RuntimeError(f"msgbus writer still holds {stats.queued} message(s) after {timeout} s")
        time.sleep(0.0005)
    if stats.failed:
        raise RuntimeError(f"msgbus writer did not deliver {stats.failed} message(s)")
