"""``python -m bench [--smoke]``: every benchmark against one LocalKafka.

Each comparison runs its systems interleaved (A B C A B C ...) for several
rounds after an untimed warm-up of each; the report gives medians and ratios.
Every measurement runs in a process of its own (bench/workers/, the Go
program, Kafka's Java tools).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from msgbus.testing import LocalKafka

from . import report, scale, tools
from .common import FULL, PERF_JVM_FLAGS, RESULTS, SMOKE, Group, Sizes
from .measure import latency_pair, prefill, run_group, worker

T = TypeVar("T")


def _once(find: Callable[[], T]) -> Callable[[], T]:
    """``find`` called at most once: later calls give its result, or raise its ToolMissing again."""
    found: list[T | tools.ToolMissing] = []

    def get() -> T:
        if not found:
            try:
                found.append(find())
            except tools.ToolMissing as exc:
                found.append(exc)
        if isinstance(found[0], tools.ToolMissing):
            raise tools.ToolMissing(str(found[0]))
        return found[0]

    return get


def build_groups(kafka: LocalKafka, sizes: Sizes, smoke: bool) -> list[Group]:
    bootstrap = kafka.bootstrap_servers

    # Tools that may be missing here: each system reports itself skipped instead of failing the run.
    go_binary = _once(tools.go_binary)
    java_lib = _once(tools.kafka_tools_lib)

    def go(mode: str, topic: str, **flags: Any) -> dict[str, Any]:
        return tools.go_run(go_binary(), mode, bootstrap, topic, **flags)

    groups: list[Group] = []

    def topic(name: str) -> str:
        kafka.create_topic(name, partitions=1)
        return name

    for size, label in ((100, "100 B"), (1024, "1 KB")):
        n = sizes.nb if size == 100 else sizes.nb // 2
        g = Group(f"write_nb_{size}", f"NonBlocking write, {label}", "msg/s")
        # msgbus and raw side by side, so that each round's pair shares the machine's state;
        # kafka-python, 40x slower, writes a quarter (its rate is no less true for it).
        for system in ("msgbus", "raw", "msgbus_many", "kafka_python", "aiokafka"):
            t = topic(f"b-nb{size}-{system}")
            count = n // 4 if system == "kafka_python" else n
            g.systems[system] = lambda d, s=system, t=t, n=count, size=size: worker(  # type: ignore[misc]
                "write_nb", s, bootstrap=bootstrap, topic=t, n=max(10, n // d), size=size
            )
        if size == 100:
            t = topic("b-nb100-aio")
            g.systems["aio"] = lambda d, t=t, n=n: worker(  # type: ignore[misc]
                "aio_write_nb", "aio", bootstrap=bootstrap, topic=t, n=n // d, size=100
            )
        t = topic(f"b-nb{size}-go")
        g.systems["go"] = lambda d, t=t, n=n, size=size: go("write-nb", t, n=n // d, size=size)  # type: ignore[misc]
        t = topic(f"b-nb{size}-pp")
        g.systems["producer_perf"] = lambda d, t=t, n=n, size=size: tools.producer_performance(  # type: ignore[misc]
            java_lib(), bootstrap, t, n // d, size
        )
        groups.append(g)

    g = Group("write_blocking", "Blocking write, 100 B, one at a time", "msg/s")
    for system in ("msgbus", "raw_flush", "raw_default"):
        t = topic(f"b-blk-{system}")
        n = sizes.blocking if system != "raw_default" else sizes.blocking_slow
        g.systems[system] = lambda d, s=system, t=t, n=n: worker(  # type: ignore[misc]
            "write_blocking", s, bootstrap=bootstrap, topic=t, n=max(10, n // d), size=100
        )
    for system in ("aio", "aiokafka_wait"):
        t = topic(f"b-blk-{system}")
        g.systems[system] = lambda d, s=system, t=t: worker(  # type: ignore[misc]
            "aio_write_blocking", s, bootstrap=bootstrap, topic=t, n=max(10, sizes.blocking // d), size=100
        )
    t = topic("b-blk-go")
    g.systems["go"] = lambda d, t=t: go("write-blocking", t, n=max(10, sizes.blocking_slow // d), size=100)  # type: ignore[misc]
    groups.append(g)

    source = topic("b-read-src")
    total = max(sizes.read, sizes.read_fast, sizes.memory) + 10
    prefill(bootstrap, source, total, 100)
    g = Group("read", "Read throughput, 100 B", "msg/s")
    fast = sizes.read_fast
    for system in ("msgbus_read", "msgbus_cb", "raw"):
        g.systems[system] = lambda d, s=system: worker("read", s, bootstrap=bootstrap, topic=source, n=fast // d)  # type: ignore[misc]
    g.systems["kafka_python"] = lambda d: worker(
        "read", "kafka_python", bootstrap=bootstrap, topic=source, n=sizes.read // d
    )
    g.systems["msgbus_read_many"] = lambda d: worker(
        "read_many", "msgbus_many", bootstrap=bootstrap, topic=source, n=fast // d
    )
    for system, n in (("aio", fast), ("aio_many", fast), ("aiokafka", sizes.read)):
        g.systems[system] = lambda d, s=system, n=n: worker("aio_read", s, bootstrap=bootstrap, topic=source, n=n // d)  # type: ignore[misc]
    g.systems["consumer_perf"] = lambda d: tools.consumer_performance(java_lib(), bootstrap, source, fast // d)
    g.systems["go"] = lambda d: go("read", source, n=sizes.read // d)
    g.systems["go_cb"] = lambda d: go("read-cb", source, n=sizes.read // d)
    groups.append(g)

    for rate in (1000, 10000):
        n = max(100, int(rate * sizes.latency_seconds))
        g = Group(f"latency_{rate}", f"End-to-end latency at {rate} msg/s", "ms")
        for system in ("msgbus", "raw"):
            t = topic(f"b-lat{rate}-{system}")
            g.systems[system] = lambda d, s=system, t=t, n=n, rate=rate: latency_pair(  # type: ignore[misc]
                s, bootstrap, t, rate, max(50, n // d)
            )
        t = topic(f"b-lat{rate}-go")
        g.systems["go"] = lambda d, t=t, n=n, rate=rate: go("latency", t, n=max(50, n // d), rate=rate)  # type: ignore[misc]
        groups.append(g)

    groups += observe_groups(bootstrap, sizes, topic, source)

    g = Group("memory", f"Peak RSS, {sizes.memory:,} messages", "MB")
    g.systems["msgbus_reader"] = lambda d: worker(
        "memory", "msgbus_reader", bootstrap=bootstrap, topic=source, n=sizes.memory // d
    )
    t = topic("b-mem-writer")
    g.systems["msgbus_writer"] = lambda d: worker(
        "memory", "msgbus_writer", bootstrap=bootstrap, topic=t, n=sizes.memory // d, size=100
    )
    groups.append(g)
    return groups


def observe_groups(bootstrap: str, sizes: Sizes, topic: Callable[[str], str], source: str) -> list[Group]:
    """What timings and tracing cost (issue 19): off and on, interleaved, reading ``source``.

    message_read neither times nor traces (read_both must match read_off); a callback does both.
    """
    groups: list[Group] = []
    fast = sizes.read_fast
    g = Group("observe_read", "Read, 100 B, timings and tracing off and on", "msg/s")
    for system in ("cb_off", "cb_timings", "cb_tracing", "read_off", "read_both"):
        g.systems[system] = lambda d, s=system: worker(  # type: ignore[misc]
            "observe_read", s, bootstrap=bootstrap, topic=source, n=fast // d
        )
    groups.append(g)
    g = Group("observe_write", "Write, 100 B, timings and tracing off and on", "msg/s")
    for system in ("nb_off", "nb_tracing", "blk_off", "blk_timings", "blk_tracing"):
        t = topic(f"b-obs-{system}")
        n = sizes.nb if system.startswith("nb") else sizes.blocking
        g.systems[system] = lambda d, s=system, t=t, n=n: worker(  # type: ignore[misc]
            "observe_write", s, bootstrap=bootstrap, topic=t, n=max(10, n // d)
        )
    groups.append(g)

    return groups


def versions(go_info: dict[str, str]) -> dict[str, str]:
    import confluent_kafka

    from msgbus import __version__

    out: dict[str, str] = {
        "msgbus": __version__,
        "python": platform.python_version(),
        "confluent-kafka": str(_first(confluent_kafka.version())),
        "librdkafka (Python)": str(_first(confluent_kafka.libversion())),
        "Apache Kafka broker": kafka_version(),
    }
    for module, label in (("kafka", "kafka-python"), ("aiokafka", "aiokafka")):
        try:
            out[label] = str(__import__(module).__version__)
        except Exception:
            out[label] = "not installed"
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    out["java"] = (java.stderr.splitlines() or ["?"])[0]
    if go_info:
        out["go"] = go_info.get("go", "?")
        out["librdkafka (Go, confluent-kafka-go v2.11.1)"] = go_info.get("librdkafka", "?")
    return out


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, tuple) else value


def kafka_version() -> str:
    from msgbus.testing.localkafka import DEFAULT_KAFKA_VERSION

    return DEFAULT_KAFKA_VERSION


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_gb:.0f} GB",
        "os": f"{platform.system()} {platform.release()}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few seconds: tiny sizes, one round, no targets")
    parser.add_argument("--rounds", type=int, help="rounds per comparison (default 5; smoke 1)")
    parser.add_argument("--only", help="comma-separated group names to run, 'scale' for the scalings (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results.md/json and chart.png go")
    opts = parser.parse_args(argv)
    if opts.smoke and opts.out == RESULTS:
        # A smoke run must not overwrite the published figures.
        opts.out = RESULTS / "smoke"
    sizes = SMOKE if opts.smoke else FULL
    if opts.rounds:
        sizes.rounds = opts.rounds
    started = time.monotonic()

    def log(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    outcome: dict[str, Any] = {}
    # LocalKafka's die-with-parent follows the launching thread: start it from this (main) thread.
    assert threading.current_thread() is threading.main_thread()
    kafka = LocalKafka(jvm_flags=PERF_JVM_FLAGS, heap_mb=1024, startup_timeout=180)
    kafka.start()
    try:
        log(f"broker up at {kafka.bootstrap_servers}")
        only = set(opts.only.split(",")) if opts.only else set()
        if only and all(name.startswith("observe") for name in only):
            # Just the cost of timings and tracing: a smaller topic to read, and nothing else built.
            def observe_topic(name: str) -> str:
                kafka.create_topic(name, partitions=1)
                return name

            source = observe_topic("b-obs-src")
            prefill(kafka.bootstrap_servers, source, sizes.read_fast + 10, 100)
            groups = observe_groups(kafka.bootstrap_servers, sizes, observe_topic, source)
        else:
            groups = build_groups(kafka, sizes, opts.smoke)
        if opts.only:
            wanted = set(opts.only.split(","))
            groups = [g for g in groups if g.name in wanted]

        def run_all(batch: list[Group]) -> None:
            for g in batch:
                log(f"{g.title}")
                run_group(g, sizes, log)

        run_all(groups)
        if not opts.only or "scale" in opts.only.split(","):
            groups += scale.run_scaling(kafka, sizes, run_all, log)
        go_info: dict[str, str] = {}
        with contextlib.suppress(tools.ToolMissing):
            go_info = tools.go_versions(tools.go_binary())
        outcome = {
            "smoke": opts.smoke,
            "rounds": sizes.rounds,
            "sizes": sizes.__dict__,
            "machine": machine(),
            "versions": versions(go_info),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "groups": {
                g.name: {"title": g.title, "unit": g.unit, "rounds": g.rounds, "skipped": g.skipped} for g in groups
            },
        }
    finally:
        kafka.stop()
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(outcome, indent=1) + "\n")
    report.write(outcome, opts.out)
    log(f"wrote {opts.out / 'results.md'} and {opts.out / 'chart.png'}")
    return 0
