"""The ``msgbus`` command against the session broker, through subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from msgbus.testing import LocalKafka

pytestmark = pytest.mark.integration

TIMEOUT = 180


def command(kafka: LocalKafka, *args: str) -> list[str]:
    return [sys.executable, "-m", "msgbus", *args, "--bootstrap", kafka.bootstrap_servers]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MSGBUS_")}


def run(kafka: LocalKafka, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(kafka, *args), input=stdin, capture_output=True, text=True, env=env(), timeout=TIMEOUT, check=False
    )


def test_write_arguments_then_read_from_the_beginning(kafka: LocalKafka, topic: str) -> None:
    assert run(kafka, "write", "--topic", topic, "one", "two words").returncode == 0
    result = run(kafka, "read", "--topic", topic, "--from-beginning", "-n", "2", "--timeout", "30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["one", "two words"]


def test_write_stdin_lines_and_read_json(kafka: LocalKafka, topic: str) -> None:
    written = run(kafka, "write", "--topic", topic, stdin="alpha\nbeta\n\nünïcode\n")
    assert written.returncode == 0, written.stderr
    before = time.time() * 1000
    result = run(kafka, "read", "--topic", topic, "--from-beginning", "-n", "4", "--json", "--timeout", "30")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["message"] for r in records] == ["alpha", "beta", "", "ünïcode"]
    assert [r["offset"] for r in records] == [0, 1, 2, 3]
    assert {r["topic"] for r in records} == {topic}
    assert {r["partition"] for r in records} == {0}
    assert all(before - 600_000 < r["timestamp"] <= time.time() * 1000 for r in records)


def test_read_waits_for_new_messages_and_stops_after_n(kafka: LocalKafka, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    reader = subprocess.Popen(
        command(kafka, "read", "--topic", topic, "--group", group, "-n", "2", "--timeout", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        # The reader prints nothing until it has joined; keep writing until it has seen two.
        deadline = time.monotonic() + TIMEOUT
        i = 0
        while reader.poll() is None and time.monotonic() < deadline:
            assert run(kafka, "write", "--topic", topic, f"m{i}").returncode == 0
            i += 1
            time.sleep(0.5)
        out, err = reader.communicate(timeout=TIMEOUT)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.communicate()
    assert reader.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.startswith("m") for line in lines)


def test_read_timeout_ends_quietly(kafka: LocalKafka, topic: str) -> None:
    result = run(kafka, "read", "--topic", topic, "--timeout", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_load_shows_the_rate_and_writes_everything(kafka: LocalKafka, topic: str) -> None:
    result = run(kafka, "write", "--topic", topic, "--count", "2000", "--size", "64", "--nonblocking")
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert "2000/2000" in summary and "msg/s" in summary and "MB/s" in summary
    read = run(kafka, "read", "--topic", topic, "--from-beginning", "-n", "2000", "--timeout", "30")
    assert read.returncode == 0, read.stderr
    lines = read.stdout.splitlines()
    assert len(lines) == 2000
    assert all(len(line) == 64 for line in lines)
    assert lines[0].startswith("0 ") and lines[-1].startswith("1999 ")
