"""The ``msgbus`` command without a broker, through a subprocess: usage, exit codes, error lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from cli_run import TIMEOUT, closed_port, run_msgbus

import msgbus


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_msgbus(args, env, stdin)


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"msgbus {msgbus.__version__}"


def test_help_lists_the_commands_and_exit_codes() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in ("write", "read", "kafka", "Exit codes"):
        assert word in result.stdout


def test_command_help_lists_the_options() -> None:
    result = run("read", "--help")
    assert result.returncode == 0
    for option in ("--bootstrap", "--host", "--port", "--topic", "--group", "--from-beginning", "--json", "-n"):
        assert option in result.stdout
    assert "MSGBUS_BOOTSTRAP" in result.stdout


def test_no_command_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("msgbus: error:")


def test_a_missing_topic_is_a_usage_error() -> None:
    result = run("read")
    assert result.returncode == 2
    assert "--topic" in result.stderr.strip().splitlines()[-1]


def test_a_bad_port_in_the_environment_is_one_line_and_exit_2() -> None:
    result = run("read", "--topic", "t", env={"MSGBUS_PORT": "abc"})
    assert result.returncode == 2
    assert result.stderr.strip() == "msgbus: error: environment variable MSGBUS_PORT is not a number: 'abc'"
    assert "Traceback" not in result.stderr


def test_contradicting_options_are_a_usage_error() -> None:
    result = run("write", "--topic", "t", "--count", "3", "hello")
    assert result.returncode == 2
    assert result.stderr.strip() == "msgbus: error: give either MESSAGE arguments or --count, not both"


def test_a_bad_config_value_is_one_line_and_exit_2() -> None:
    result = run("write", "--topic", "bad topic!", "x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("msgbus: error: --topic: topic 'bad topic!'")


def test_a_dead_broker_is_one_line_and_exit_1() -> None:
    result = run("write", "--bootstrap", "127.0.0.1:1", "--retries", "1", "--topic", "t", "x")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("msgbus: error: could not connect to Kafka at 127.0.0.1:1")


def test_no_broker_says_what_it_waits_for_and_fails_fast() -> None:
    where = f"127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = run("write", "--bootstrap", where, "--retries", "3", "--topic", "t", "x")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"msgbus: waiting for Kafka at {where} (attempt 1 of 3 failed: "), lines[0]
    assert "Connection refused" in lines[0]
    assert lines[1].startswith(f"msgbus: error: could not connect to Kafka at {where} after 3 attempt(s)"), lines[1]
    # Three attempts of connect_timeout (10 s) each took 31 s: a refused connection ends an attempt.
    assert elapsed < 10, elapsed


def test_verbose_shows_the_retries_too() -> None:
    where = f"127.0.0.1:{closed_port()}"
    result = run("read", "-v", "--bootstrap", where, "--retries", "2", "--topic", "t")
    assert result.returncode == 1
    assert "msgbus: WARNING: connect attempt 1 to " in result.stderr
    assert result.stderr.count("waiting for Kafka") == 1


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_silent_broker_says_what_it_waits_for_and_ctrl_c_ends_it() -> None:
    """A port that accepts connections and never answers: no attempt fails for connect_timeout (10 s)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        where = f"127.0.0.1:{silent.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBUS_")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "msgbus", "write", "--bootstrap", where, "--topic", "t", "x"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # Ctrl-C as a terminal gives it, even when this suite runs with SIGINT ignored (a background job).
            preexec_fn=_default_sigint,
        )
        try:
            assert proc.stderr is not None
            # Bounded by the kill below if the line never comes.
            killer = threading.Timer(TIMEOUT, proc.kill)
            killer.start()
            try:
                first = proc.stderr.readline()
            finally:
                killer.cancel()
            assert first.startswith(f"msgbus: waiting for Kafka at {where} (no answer yet)"), first
            proc.send_signal(signal.SIGINT)
            assert proc.wait(TIMEOUT) == 130
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


def test_the_environment_names_the_broker_and_topic() -> None:
    result = run("write", "--retries", "1", "x", env={"MSGBUS_BOOTSTRAP": "127.0.0.1:1", "MSGBUS_TOPIC": "t"})
    assert result.returncode == 1
    assert "could not connect to Kafka at 127.0.0.1:1" in result.stderr


def test_kafka_status_without_a_cluster(tmp_path: Path) -> None:
    result = run("kafka", "status", env={"MSGBUS_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
