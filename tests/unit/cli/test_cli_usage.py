"""``msgbus`` usage through a subprocess, no broker (issue 12, items 1, 3, 6): help for every
command, usage errors (exit 2, one line) for bad options and environment values, and which
of --bootstrap, MSGBUS_BOOTSTRAP, --host/--port and MSGBUS_HOST/MSGBUS_PORT names the broker."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_run import closed_port, run_msgbus


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    utf8 = {"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    return run_msgbus(args, {**utf8, **env}, drop=("MSGBUS_", "LC_", "LANG"))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["kafka", "--help"], ["start", "stop", "status"]),
        (["kafka", "start", "--help"], ["--nodes", "--port", "--print-env", "MSGBUS_BOOTSTRAP"]),
        (["kafka", "status", "--help"], ["--print-env"]),
        (["kafka", "stop", "--help"], ["usage: msgbus kafka stop"]),
        (["read", "--help"], ["message_b64", "U+FFFD", "exit code 0", "MSGBUS_BOOTSTRAP beats"]),
        (["write", "--help"], ["byte for byte", "rate", "acknowledged"]),
    ],
)
def test_help_exits_0_and_documents(args: list[str], words: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    for word in words:
        assert word in result.stdout, (word, result.stdout)


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        (["kafka"], {}, "required: COMMAND"),
        (["kafka", "begin"], {}, "invalid choice: 'begin'"),
        (["kafka", "start", "--port", "70000"], {}, "argument --port: 70000 is out of range"),
        (["kafka", "start", "--nodes", "0"], {}, "argument -n/--nodes: 0 is out of range"),
        (["kafka", "stop", "extra"], {}, "unrecognized arguments: extra"),
        (["read", "--topic", "t", "-n", "0"], {}, "argument -n/--count: 0 is out of range; it must be >= 1"),
        (["read", "--topic", "t", "-n", "-3"], {}, "argument -n/--count: -3 is out of range"),
        (["read", "--topic", "t", "--timeout", "0"], {}, "--timeout must be a positive number of seconds"),
        (["write", "--topic", "t", "--size", "10", "x"], {}, "--size needs --count"),
        (["write", "--topic", "t", "--count", "-1"], {}, "argument --count: -1 is out of range"),
        (["write", "--topic", "t", "--retries", "-1", "x"], {}, "argument --retries: -1 is out of range"),
        (["write", "--topic", "t", "--port", "70000", "x"], {}, "argument --port: 70000 is out of range"),
        (["write", "--topic", "t", "--port", "x1", "x"], {}, "argument --port: 'x1' is not a whole number"),
        (["write", "--topic", "bad topic!", "x"], {}, "--topic: topic 'bad topic!'"),
        (["write", "x"], {"MSGBUS_TOPIC": "bad topic!"}, "MSGBUS_TOPIC: topic 'bad topic!'"),
        (["write", "--topic", "t", "x"], {"MSGBUS_BOOTSTRAP": "nohost"}, "MSGBUS_BOOTSTRAP: bootstrap_servers entry"),
        (["write", "--topic", "t", "--bootstrap", "a:b:c", "x"], {}, "--bootstrap: bootstrap_servers entry"),
        (["write", "--topic", "t", "x"], {"MSGBUS_PORT": "70000"}, "environment variable MSGBUS_PORT is 70000"),
        (["write", "--topic", "t", "x"], {"MSGBUS_HOST": "bad host!"}, "MSGBUS_HOST: host 'bad host!'"),
    ],
)
def test_bad_values_are_usage_errors(args: list[str], env: dict[str, str], reason: str) -> None:
    result = run(*args, **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "error: " in last and reason in last, last


def test_msgbus_bootstrap_beats_msgbus_host_and_port() -> None:
    bootstrap = f"127.0.0.1:{closed_port()}"
    env = {"MSGBUS_BOOTSTRAP": bootstrap, "MSGBUS_HOST": "127.0.0.2", "MSGBUS_PORT": "2", "MSGBUS_TOPIC": "t"}
    result = run("write", "--retries", "1", "x", **env)
    assert result.returncode == 1
    assert f"could not connect to Kafka at {bootstrap} " in result.stderr


def test_an_option_beats_msgbus_bootstrap() -> None:
    port = closed_port()
    env = {"MSGBUS_BOOTSTRAP": "127.0.0.1:1", "MSGBUS_TOPIC": "t"}
    result = run("write", "--retries", "1", "--host", "127.0.0.1", "--port", str(port), "x", **env)
    assert result.returncode == 1
    assert f"could not connect to Kafka at 127.0.0.1:{port} " in result.stderr


def test_kafka_status_print_env_without_a_cluster_prints_nothing_to_eval(tmp_path: Path) -> None:
    result = run("kafka", "status", "--print-env", MSGBUS_STATE_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "not running" in result.stderr
