"""The non-Python systems: Kafka's own perf tools (Java, from Maven Central) and
the Go program in bench/go (the Go original's settings on confluent-kafka-go)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from msgbus.testing.localkafka import (
    DEFAULT_KAFKA_VERSION,
    KafkaToolingError,
    default_cache_dir,
    resolve_with_maven,
)

HERE = Path(__file__).resolve().parent
_TIMEOUT = 600


class ToolMissing(RuntimeError):
    """A system cannot run here (no Go toolchain, say); the run reports it as skipped."""


def _cache_root() -> Path:
    return default_cache_dir(DEFAULT_KAFKA_VERSION).parent


def kafka_tools_lib() -> Path:
    """The kafka-tools jars and their dependencies, resolved with Maven once."""
    cache = _cache_root() / f"kafka-tools-{DEFAULT_KAFKA_VERSION}"
    try:
        return resolve_with_maven(
            (HERE / "java" / "pom.xml").read_text(), cache, DEFAULT_KAFKA_VERSION, "kafka-tools-*.jar"
        )
    except KafkaToolingError as exc:
        raise ToolMissing(f"Maven could not resolve kafka-tools: {exc}") from None


def _java(lib: Path, main: str, args: list[str]) -> str:
    java = shutil.which("java")
    if java is None:
        raise ToolMissing("java not found")
    cmd = [java, "-Xmx512m", "-cp", f"{lib}/*", f"org.apache.kafka.tools.{main}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{main} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


_SENT = re.compile(r"(\d+) records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency")


def producer_performance(lib: Path, bootstrap: str, topic: str, n: int, size: int) -> dict[str, Any]:
    out = _java(
        lib,
        "ProducerPerformance",
        [
            "--topic",
            topic,
            "--num-records",
            str(n),
            "--record-size",
            str(size),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={bootstrap}",
        ],
    )
    matches = _SENT.findall(out)
    if not matches:
        raise RuntimeError(f"unexpected ProducerPerformance output: {out[-1000:]}")
    count, rate, _avg = matches[-1]
    return {"messages": int(count), "rate": float(rate)}


def consumer_performance(lib: Path, bootstrap: str, topic: str, n: int) -> dict[str, Any]:
    out = _java(
        lib,
        "ConsumerPerformance",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--messages",
            str(n),
            "--group",
            f"bench-{uuid.uuid4().hex}",
            "--timeout",
            "60000",
        ],
    )
    # CSV: start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
    # fetch.nMsg.sec. fetch.nMsg.sec leaves the group join out, as the Python readers do.
    lines = [line for line in out.splitlines() if line.count(",") >= 9 and line[:1].isdigit()]
    if not lines:
        raise RuntimeError(f"unexpected ConsumerPerformance output: {out[-1000:]}")
    fields = [field.strip() for field in lines[-1].split(",")]
    return {"messages": int(float(fields[4])), "rate": float(fields[9])}


def go_binary() -> Path:
    """Build bench/go (cgo, librdkafka bundled by confluent-kafka-go) into the cache."""
    go = shutil.which("go")
    if go is None:
        raise ToolMissing("no Go toolchain (go) on PATH")
    out = _cache_root() / "bench-go" / "msgbus-bench"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, CGO_ENABLED="1")
    proc = subprocess.run(
        [go, "build", "-o", str(out), "."],
        cwd=HERE / "go",
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise ToolMissing(f"go build failed: {proc.stderr[-2000:]}")
    return out


def go_run(binary: Path, mode: str, bootstrap: str, topic: str, **flags: Any) -> dict[str, Any]:
    cmd = [str(binary), f"-bootstrap={bootstrap}", f"-topic={topic}"]
    cmd += [f"-{key}={value}" for key, value in flags.items()]
    cmd.append(mode)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"go {mode} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def go_versions(binary: Path) -> dict[str, str]:
    proc = subprocess.run([str(binary), "-topic=x", "version"], capture_output=True, text=True, check=False)
    try:
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return {}
