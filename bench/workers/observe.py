"""What timings (``MsgBusConfig.timings``) and tracing (``tracing``) cost: the same reads and writes, off and on.

Tracing runs with the OpenTelemetry SDK's TracerProvider and no exporter: every span is
made, timed and ended as an application's would be, and then dropped (exporting is the
application's own cost, whichever library made the span).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import msgbus

from ..common import Args, Result
from .common import flush_msgbus, msgbus_config, payload

# system -> the config fields it turns on.
_FIELDS: dict[str, dict[str, Any]] = {
    "off": {},
    "timings": {"timings": True},
    "tracing": {"tracing": True},
    "both": {"timings": True, "tracing": True},
}


def _fields(system: str) -> dict[str, Any]:
    fields = _FIELDS[system.rsplit("_", 1)[1]]
    if fields.get("tracing"):
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
    return fields


def observe_read(system: str, a: Args) -> Result:
    """``cb_<fields>``: a callback; ``read_<fields>``: message_read (which neither times nor traces)."""
    n = int(a["n"])
    style = system.split("_", 1)[0]
    cfg = msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id="", **_fields(system))
    bus = msgbus.connect(cfg)
    if style == "read":
        read_one = bus.message_read
        read_one(timeout=60)
        start = time.perf_counter()
        for _ in range(n - 1):
            read_one(timeout=60)
        seconds = time.perf_counter() - start
    elif style == "cb":
        finished = threading.Event()
        times: list[float] = []
        count = 0

        def on_message(_msg: str) -> None:
            nonlocal count
            count += 1
            if count == 1 or count == n:
                times.append(time.perf_counter())
            if count == n:
                finished.set()

        bus.register_cb(on_message)
        if not finished.wait(120):
            raise RuntimeError(f"callback saw only {count} of {n}")
        seconds = times[1] - times[0]
    else:
        raise SystemExit(f"unknown system {system}")
    bus.disconnect()
    return {"messages": n, "seconds": seconds, "rate": (n - 1) / seconds}


def observe_write(system: str, a: Args) -> Result:
    """``nb_<fields>``: NonBlocking writes, one at a time; ``blk_<fields>``: Blocking ones."""
    n, text = int(a["n"]), payload(100)
    style = system.split("_", 1)[0]
    blocking = msgbus.Blocking if style == "blk" else msgbus.NonBlocking
    bus = msgbus.connect(msgbus_config(a, msgbus.BusWriter, blocking, **_fields(system)))
    write = bus.message_write
    write(text)
    if style == "nb":
        flush_msgbus(bus)
    start = time.perf_counter()
    for _ in range(n):
        write(text)
    if style == "nb":
        flush_msgbus(bus)
    seconds = time.perf_counter() - start
    bus.disconnect()
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


KINDS = {"observe_read": observe_read, "observe_write": observe_write}
