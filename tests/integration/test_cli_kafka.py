"""``msgbus kafka start|status|stop`` through subprocesses (issue 12, items 1 and 3): a fixed --port,
the export line to paste, and eval "$(msgbus kafka start --print-env)" then write and read."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from msgbus._cli import kafka as cli_kafka

pytestmark = pytest.mark.integration

TIMEOUT = 240


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_start_on_a_port_says_what_to_paste_and_eval_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MSGBUS_", "LC_", "LANG"))}
    env.update(MSGBUS_STATE_DIR=str(tmp_path), PYTHONIOENCODING="utf-8", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    # The shell snippet below runs `msgbus`: this interpreter's, whatever is on PATH.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "msgbus").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m msgbus "$@"\n')
    (bindir / "msgbus").chmod(0o755)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"

    def msgbus(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bindir / "msgbus"), *args], capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
        )

    port = free_port()
    where = f"127.0.0.1:{port}"
    export = f"export MSGBUS_BOOTSTRAP={where}"
    started = msgbus("kafka", "start", "--port", str(port))
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout == f"{where}\n"  # stdout: the bootstrap alone, for scripts
        assert export in started.stderr  # stderr: the line to paste

        status = msgbus("kafka", "status")
        assert status.returncode == 0, status.stderr
        assert status.stdout == f"local Kafka: running at {where}\n"
        assert export in status.stderr
        assert msgbus("kafka", "status", "--print-env").stdout == f"{export}\n"

        again = msgbus("kafka", "start", "--port", str(free_port()))
        assert again.returncode == 1
        assert f"already running at {where}" in again.stderr

        script = (
            'eval "$(msgbus kafka start --print-env)" && '
            'msgbus write --topic newcomer "hello from eval" && '
            "msgbus read --topic newcomer --from-beginning -n 1 --timeout 60"
        )
        shell = subprocess.run(
            ["sh", "-c", script], capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False
        )
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout == "hello from eval\n"
        assert "already running" in shell.stderr
    finally:
        stopped = msgbus("kafka", "stop")
        monkeypatch.setenv("MSGBUS_STATE_DIR", str(tmp_path))
        cli_kafka.kafka_stop()  # if the command failed: no JVM outlives the test
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert msgbus("kafka", "status").returncode == 1


def test_start_on_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGBUS_")}
    env["MSGBUS_STATE_DIR"] = str(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "msgbus", "kafka", "start", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == f"msgbus kafka: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert not (tmp_path / "localkafka-state.json").exists()


def test_stop_keeps_the_data_start_and_restart_bring_the_same_cluster_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: `msgbus kafka stop` keeps the data (`--delete` drops it); --kafka-version picks the release."""
    import io
    import uuid

    from confluent_kafka import Consumer, Producer

    monkeypatch.setenv("MSGBUS_STATE_DIR", str(tmp_path))

    def cli(*args: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert cli_kafka.main(list(args), out, err) == 0, err.getvalue()
        return out.getvalue() + err.getvalue()

    def read_back(bootstrap: str) -> list[bytes]:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest"}
        )
        try:
            consumer.subscribe(["kept"])
            got = [m.value() for m in consumer.consume(10, 15) if m.error() is None]
            return [value for value in got if value is not None]
        finally:
            consumer.close()

    try:
        cli("start", "--kafka-version", "3.9.2")
        state = cli_kafka.kafka_status()
        assert state is not None and state["kafka_version"] == "3.9.2"
        bootstrap, cluster_id, data_dir = state["bootstrap_servers"], state["cluster_id"], Path(state["data_dir"])
        producer = Producer({"bootstrap.servers": bootstrap})
        producer.produce("kept", b"still here")
        assert producer.flush(30) == 0
        assert "its data kept" in cli("stop")
        assert data_dir.is_dir()
        assert "start` brings it back" in _status_line()
        assert "again, with its data" in cli("start")
        again = cli_kafka.kafka_status()
        assert again is not None and again["running"]
        assert (again["bootstrap_servers"], again["cluster_id"]) == (bootstrap, cluster_id)
        assert read_back(bootstrap) == [b"still here"]
        cli("restart")
        assert read_back(bootstrap) == [b"still here"]
        assert "its data deleted" in cli("stop", "--delete")
        assert not data_dir.exists() and cli_kafka.kafka_status() is None
    finally:
        cli_kafka.kafka_stop(delete=True)


def _status_line() -> str:
    import io

    out, err = io.StringIO(), io.StringIO()
    cli_kafka.main(["status"], out, err)
    return out.getvalue()
