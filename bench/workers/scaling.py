"""The scaling workers (how cost grows), run by bench.workers: group readers, connect time, memory by backlog,
and the CLI's pipelined write."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import msgbus

from ..common import ROOT, Args, Result
from .common import msgbus_config, peak_rss_mb, rss_mb


def group_reader(system: str, a: Args) -> Result:
    """One of several readers in the group ``a["group"]``: reads until ``idle`` s pass without a message.

    Prints READY once connected. Reports its count and the wall-clock times of its
    first and last message, so that the caller can add the readers up.
    """
    if system != "msgbus":
        raise SystemExit(f"unknown system {system}")
    idle = float(a["idle"])
    cfg = msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id=a["group"])
    bus = msgbus.connect(cfg)
    print("READY", flush=True)
    count = 0
    first = last = 0.0
    read_one = bus.message_read
    connected = time.monotonic()
    deadline = connected + float(a["limit"])
    while time.monotonic() < deadline:
        if read_one(timeout=idle) is None:
            # Done once idle after reading; a reader the group gave nothing to, once the join surely settled.
            if count or time.monotonic() - connected > float(a["settle"]):
                break
            continue
        last = time.time()
        if not count:
            first = last
        count += 1
    bus.disconnect()
    return {"messages": count, "first": first, "last": last}


def connect_time(system: str, a: Args) -> Result:
    """Seconds for connect() of a writer and of a reader, and for the reader's first message, on one topic."""
    if system != "msgbus":
        raise SystemExit(f"unknown system {system}")
    t0 = time.perf_counter()
    writer = msgbus.connect(msgbus_config(a, msgbus.BusWriter, msgbus.Blocking))
    writer_s = time.perf_counter() - t0
    writer.disconnect()
    t0 = time.perf_counter()
    cfg = msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id="")
    reader = msgbus.connect(cfg)
    reader_s = time.perf_counter() - t0
    if reader.message_read(timeout=60) is None:
        raise RuntimeError("the reader got no message")
    first_s = time.perf_counter() - t0
    reader.disconnect()
    return {"writer_s": writer_s, "reader_s": reader_s, "first_message_s": first_s}


def backlog_memory(system: str, a: Args) -> Result:
    """A reader's RSS on a topic holding ``n`` messages: connected, after idling (prefetch), and at the end."""
    if system != "msgbus":
        raise SystemExit(f"unknown system {system}")
    n = int(a["n"])
    out: Result = {"messages": n}
    bus = msgbus.connect(msgbus_config(a, msgbus.BusReader, msgbus.Blocking, offset_reset="earliest", group_id=""))
    out["connected_mb"] = rss_mb()
    if bus.message_read(timeout=60) is None:
        raise RuntimeError("no message arrived")
    time.sleep(float(a["idle"]))  # nothing read: the client and the inbox fill up to their bounds
    out["idle_mb"] = rss_mb()
    for i in range(n - 1):
        if bus.message_read(timeout=60) is None:
            raise RuntimeError(f"only {i + 1} of {n} arrived")
    out["end_mb"] = rss_mb()
    bus.disconnect()
    out["peak_mb"] = peak_rss_mb()
    return out


def cli_write(system: str, a: Args) -> Result:
    """n lines: msgbus._cli.write_lines.write_lines in this process, or ``msgbus write`` with the lines on stdin."""
    n = int(a["n"])
    lines = [f"{i:08d} " + "x" * 91 for i in range(n)]  # 100 bytes each
    if system == "write_lines":
        from msgbus._cli.write_lines import write_lines

        bus = msgbus.connect(msgbus_config(a, msgbus.BusWriter, msgbus.Blocking))
        start = time.perf_counter()
        outcome = write_lines(bus, ((line, len(line)) for line in lines))
        seconds = time.perf_counter() - start
        bus.disconnect()
        if not outcome.ok:
            raise RuntimeError("; ".join(outcome.report()))
    elif system == "cli":
        data = ("\n".join(lines) + "\n").encode()
        cmd = [sys.executable, "-m", "msgbus", "write", "--bootstrap", a["bootstrap"], "--topic", a["topic"]]
        start = time.perf_counter()
        proc = subprocess.run(cmd, input=data, capture_output=True, timeout=600, cwd=ROOT, check=False)
        seconds = time.perf_counter() - start  # includes interpreter start and connect (~0.5 s)
        if proc.returncode != 0:
            raise RuntimeError(f"msgbus write failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    else:
        raise SystemExit(f"unknown system {system}")
    return {"messages": n, "seconds": seconds, "rate": n / seconds}


KINDS: dict[str, Callable[[str, Args], Result]] = {
    "group_reader": group_reader,
    "connect_time": connect_time,
    "backlog_memory": backlog_memory,
    "cli_write": cli_write,
}
