"""``msgbus`` read/write through subprocesses under a strict UTF-8 locale (issue 12, items 1, 4, 5, 7):
bytes that are not UTF-8, a closed stdout pipe, progress on a terminal, MSGBUS_BOOTSTRAP."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from confluent_kafka import Producer

from msgbus.testing import LocalKafka

from .helpers import closed_port, raw_produce, raw_read_all

pytestmark = pytest.mark.integration

TIMEOUT = 120
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def strict_env(**extra: str) -> dict[str, str]:
    """No MSGBUS_* from the caller; stdout/stdin encodings strict UTF-8, as under en_US.UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGBUS_", "LC_", "LANG"))}
    env.update(PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    env.update(extra)
    return env


def msgbus(kafka: LocalKafka, *args: str) -> list[str]:
    return [sys.executable, "-m", "msgbus", *args, "--bootstrap", kafka.bootstrap_servers]


def run(cmd: list[str], stdin: bytes = b"", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = strict_env(**(env or {}))
    return subprocess.run(cmd, input=stdin, capture_output=True, env=full_env, timeout=TIMEOUT, check=False)


def read_all(kafka: LocalKafka, topic: str, count: int, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return run(msgbus(kafka, "read", "--topic", topic, "--from-beginning", "-n", str(count), "--timeout", "30", *extra))


def readline_bounded(stream: IO[bytes], proc: subprocess.Popen[bytes]) -> bytes:
    killer = threading.Timer(TIMEOUT, proc.kill)  # a line that never comes ends the test, not the run
    killer.start()
    try:
        return stream.readline()
    finally:
        killer.cancel()


BAD = b"bad \xff\xfe bytes \xc3("  # not UTF-8: other clients write such values


def test_write_sends_stdin_bytes_exactly_even_when_not_utf8(kafka: LocalKafka, topic: str) -> None:
    stdin = b"good one\n" + BAD + b"\r\n" + b"\xe2\x82\xac after\n" + b"no newline at the end"
    result = run(msgbus(kafka, "write", "--topic", topic), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    # The exact bytes went on the wire, one line terminator (\n or \r\n) removed.
    assert raw_read_all(kafka, topic, 4) == [b"good one", BAD, b"\xe2\x82\xac after", b"no newline at the end"]


def test_write_pipelines_stdin_and_names_the_lines_not_delivered(kafka: LocalKafka, topic: str) -> None:
    lines = [f"line {n}".encode() for n in range(1, 20_001)]
    too_big = b"x" * 1_200_000  # over librdkafka's message.max.bytes: refused, the others still go
    lines[2] = too_big
    result = run(msgbus(kafka, "write", "--topic", topic), stdin=b"\n".join(lines) + b"\n")
    assert result.returncode == 1, result.stderr
    errors = result.stderr.decode().splitlines()
    assert any(line.startswith("msgbus: error: line 3 not delivered") for line in errors), errors
    assert "msgbus: error: 1 of 20000 line(s) read not delivered" in errors
    expected = lines[:2] + lines[3:]
    assert raw_read_all(kafka, topic, len(expected)) == expected  # all the others, in order


def test_read_passes_bytes_through_and_json_stays_valid_utf8(kafka: LocalKafka, topic: str) -> None:
    raw_produce(kafka, topic, [b"caf\xc3\xa9", BAD, b""])
    plain = read_all(kafka, topic, 3)
    assert plain.returncode == 0, plain.stderr
    assert b"Traceback" not in plain.stderr
    assert plain.stdout == b"caf\xc3\xa9\n" + BAD + b"\n\n"

    as_json = read_all(kafka, topic, 3, "--json")
    assert as_json.returncode == 0, as_json.stderr
    lines = as_json.stdout.decode("utf-8").splitlines()  # strict: raises if not valid UTF-8
    records = [json.loads(line) for line in lines]
    assert [r["message"] for r in records] == ["café", BAD.decode("utf-8", "replace"), ""]
    # message_b64 only where the bytes are not UTF-8, and then exactly them.
    assert ["message_b64" in r for r in records] == [False, True, False]
    assert base64.b64decode(records[1]["message_b64"]) == BAD
    assert "\ufffd" in records[1]["message"]


def test_read_json_shows_each_messages_headers_in_order(kafka: LocalKafka, topic: str) -> None:
    headers: list[tuple[str, str | bytes | None]] = [
        ("trace", b"abc"),
        ("bin", BAD),
        ("trace", b"second"),
        ("none", None),
    ]
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    producer.produce(topic, b"with headers", headers=headers)
    producer.produce(topic, b"without")
    assert producer.flush(30) == 0
    as_json = read_all(kafka, topic, 2, "--json")
    assert as_json.returncode == 0, as_json.stderr
    first, second = (json.loads(line) for line in as_json.stdout.decode("utf-8").splitlines())
    # In order, duplicates kept; bytes that are not UTF-8 also as value_b64; a header with no value is null.
    assert [(h["key"], h["value"]) for h in first["headers"]] == [
        ("trace", "abc"),
        ("bin", BAD.decode("utf-8", "replace")),
        ("trace", "second"),
        ("none", None),
    ]
    assert ["value_b64" in h for h in first["headers"]] == [False, True, False, False]
    assert base64.b64decode(first["headers"][1]["value_b64"]) == BAD
    assert second["headers"] == []


@contextlib.contextmanager
def reading(kafka: LocalKafka, topic: str, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``msgbus read`` from the beginning with its stdout a pipe; killed at the end if it still runs."""
    proc = subprocess.Popen(
        msgbus(kafka, "read", "--topic", topic, "--from-beginning", *extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=strict_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def ended_after_the_pipe_closed(proc: subprocess.Popen[bytes]) -> str:
    """Close the read end (as head does), wait for the reader to end with 0 and no traceback; its stderr."""
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail("msgbus read still runs 60 s after its stdout pipe closed")
    err = proc.stderr.read().decode("utf-8", "replace")
    assert code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    return err


def test_read_ends_when_the_pipe_closes_while_idle(kafka: LocalKafka, topic: str) -> None:
    """`msgbus read | head -2`: after head is gone, and with no further message, the reader ends."""
    assert run(msgbus(kafka, "write", "--topic", topic, "one", "two")).returncode == 0
    with reading(kafka, topic) as proc:
        assert proc.stdout is not None
        assert readline_bounded(proc.stdout, proc) == b"one\n"
        assert readline_bounded(proc.stdout, proc) == b"two\n"
        ended_after_the_pipe_closed(proc)  # nothing more is written to the topic


def test_read_ends_on_the_next_write_after_the_pipe_closed(kafka: LocalKafka, topic: str) -> None:
    with reading(kafka, topic, "--json") as proc:
        assert proc.stdout is not None
        # The second is larger than a pipe holds: its write is under way when the pipe closes.
        raw_produce(kafka, topic, [BAD, b"x" * 100_000])
        assert json.loads(readline_bounded(proc.stdout, proc))["message_b64"]
        ended_after_the_pipe_closed(proc)


def test_stdin_writes_show_count_and_rate_on_a_terminal(kafka: LocalKafka, topic: str) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            msgbus(kafka, "write", "--topic", topic),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env=strict_env(),
        )
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"".join(b"line %d\n" % i for i in range(50)))
        proc.stdin.close()
        reader = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
        reader.start()
        code = proc.wait(TIMEOUT)
        reader.join(TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert code == 0, shown
    assert "50 messages" in shown and "msg/s" in shown, shown
    assert len(raw_read_all(kafka, topic, 50)) == 50


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the writer's end of the terminal is closed
            return
        if not data:
            return
        chunks.append(data)


def test_stdin_writes_show_nothing_when_stderr_is_not_a_terminal(kafka: LocalKafka, topic: str) -> None:
    result = run(msgbus(kafka, "write", "--topic", topic), stdin=b"a\nb\n")
    assert result.returncode == 0, result.stderr
    assert b"msg/s" not in result.stderr and b"messages" not in result.stderr


def test_msgbus_bootstrap_beats_host_and_port_for_verbs_and_examples(kafka: LocalKafka, topic: str) -> None:
    """What `msgbus kafka start` says to paste is enough; MSGBUS_HOST/MSGBUS_PORT then do not matter."""
    env = {
        "MSGBUS_BOOTSTRAP": kafka.bootstrap_servers,
        "MSGBUS_HOST": "127.0.0.1",
        "MSGBUS_PORT": str(closed_port()),
        "MSGBUS_TOPIC": topic,
    }
    cli = [sys.executable, "-m", "msgbus"]
    assert run([*cli, "write", "--retries", "1", "from the cli"], env=env).returncode == 0
    example = run([sys.executable, str(EXAMPLES / "writer.py"), "from the example"], env=env)
    assert example.returncode == 0, example.stdout + example.stderr
    assert b"Message written: 'from the example'" in example.stdout
    read = run([*cli, "read", "--retries", "1", "--from-beginning", "-n", "2", "--timeout", "30"], env=env)
    assert read.returncode == 0, read.stderr
    assert read.stdout.splitlines() == [b"from the cli", b"from the example"]


def test_the_old_host_and_port_still_work_for_the_examples(kafka: LocalKafka, topic: str) -> None:
    env = {"MSGBUS_HOST": kafka.host, "MSGBUS_PORT": str(kafka.port), "MSGBUS_TOPIC": topic}
    example = run([sys.executable, str(EXAMPLES / "writer.py"), "hello"], env=env)
    assert example.returncode == 0, example.stdout + example.stderr
    assert raw_read_all(kafka, topic, 1) == [b"hello"]
