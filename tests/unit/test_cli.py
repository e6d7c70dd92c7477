"""The ``msgbus`` command without a broker, through a subprocess: usage, exit codes, error lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import msgbus

TIMEOUT = 120


def run(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBUS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "msgbus", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=TIMEOUT,
        check=False,
    )


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


def test_a_bad_config_value_is_one_line_and_exit_1() -> None:
    result = run("write", "--topic", "bad topic!", "x")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("msgbus: error: topic 'bad topic!'")


def test_a_dead_broker_is_one_line_and_exit_1() -> None:
    result = run("write", "--bootstrap", "127.0.0.1:1", "--retries", "1", "--topic", "t", "x")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("msgbus: error: could not connect to Kafka at 127.0.0.1:1")


def test_the_environment_names_the_broker_and_topic() -> None:
    result = run("write", "--retries", "1", "x", env={"MSGBUS_BOOTSTRAP": "127.0.0.1:1", "MSGBUS_TOPIC": "t"})
    assert result.returncode == 1
    assert "could not connect to Kafka at 127.0.0.1:1" in result.stderr


def test_kafka_status_without_a_cluster(tmp_path: Path) -> None:
    result = run("kafka", "status", env={"MSGBUS_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
