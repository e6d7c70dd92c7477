"""Unit tests for msgbus.testing.localkafka that need no broker, Java or Maven."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from msgbus._cli import kafka as cli_kafka
from msgbus.testing import KafkaToolingError, LocalKafka
from msgbus.testing._localkafka import cluster, daemon, maven
from msgbus.testing._localkafka.broker_props import _broker_properties, _new_cluster_id, _render_properties
from msgbus.testing._localkafka.processes import _free_ports


def _which_without(*missing: str) -> Any:
    real = shutil.which

    def which(cmd: str, *args: Any, **kwargs: Any) -> str | None:
        if cmd in missing:
            return None
        return real(cmd, *args, **kwargs)

    return which


def test_cluster_id_format() -> None:
    ids = {_new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", cid), cid
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_properties_one_node() -> None:
    props = _broker_properties(1, [(9092, 9093)], "/tmp/x/data")
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093")
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == "/tmp/x/data"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
        "num.partitions",
    ):
        assert props[key] == "1", key
    assert props["auto.create.topics.enable"] == "true"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert int(props["offsets.topic.num.partitions"]) <= 8
    assert int(props["broker.session.timeout.ms"]) < 9000


def test_properties_three_nodes() -> None:
    ports = [(9001, 9101), (9002, 9102), (9003, 9103)]
    all_props = [_broker_properties(i, ports, f"/d/{i}") for i in (1, 2, 3)]
    voters = "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    for i, props in enumerate(all_props, start=1):
        assert props["node.id"] == str(i)
        assert props["controller.quorum.voters"] == voters
        assert props["advertised.listeners"] == f"PLAINTEXT://127.0.0.1:900{i}"
        assert props["log.dirs"] == f"/d/{i}"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["transaction.state.log.min.isr"] == "2"
        assert int(props["broker.session.timeout.ms"]) < 9000
        assert int(props["replica.lag.time.max.ms"]) < 30000


def test_properties_extra_and_bad_node() -> None:
    props = _broker_properties(1, [(1, 2)], "/d", {"log.retention.ms": 1000, "delete.topic.enable": False})
    assert props["log.retention.ms"] == "1000"
    assert props["delete.topic.enable"] == "false"
    with pytest.raises(ValueError):
        _broker_properties(2, [(1, 2)], "/d")


def test_render_properties() -> None:
    text = _render_properties({"a.b": "x", "path": "C:\\dir", "k:v": "1"})
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert "a.b=x" in lines
    assert "path=C:\\\\dir" in lines
    assert "k\\:v=1" in lines


def test_free_ports_distinct() -> None:
    ports = _free_ports(6)
    assert len(set(ports)) == 6
    assert all(0 < p < 65536 for p in ports)


def test_missing_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", _which_without("java"))
    with pytest.raises(KafkaToolingError) as info:
        LocalKafka(cache_dir=tmp_path).start()
    assert "java" in str(info.value)
    assert "apt-get install openjdk-17-jre-headless maven" in str(info.value)
    assert isinstance(info.value, RuntimeError)


def test_missing_mvn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", _which_without("mvn"))
    # Java must look present and recent, whether or not it is installed here.
    monkeypatch.setattr(cluster, "_require_java", lambda: "/usr/bin/java")
    with pytest.raises(KafkaToolingError) as info:
        LocalKafka(cache_dir=tmp_path / "empty-cache").start()
    assert "mvn" in str(info.value)
    assert "apt-get install" in str(info.value)


def test_mvn_not_needed_when_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", _which_without("mvn"))
    (tmp_path / "lib").mkdir()
    (tmp_path / ".resolved").write_text("4.1.1\n")
    assert maven.ensure_jars("4.1.1", tmp_path) == tmp_path / "lib"


def test_mvn_failure_reports_output(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "mvn"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'line one'\necho '[ERROR] could not resolve' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: str(fake) if cmd == "mvn" else None)
    cache = tmp_path / "cache"
    (cache / "lib").mkdir(parents=True)  # a half-finished earlier run
    with pytest.raises(KafkaToolingError) as info:
        maven.ensure_jars("4.1.1", cache)
    assert "could not resolve" in str(info.value)
    assert not (cache / ".resolved").exists()
    assert (cache / "pom.xml").read_text().count("kafka_2.13") == 1


def test_old_java_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: "/fake/java")
    maven._java_checked.clear()

    def run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 0, "", 'openjdk version "11.0.2" 2019-01-15\n')

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(KafkaToolingError, match="Java 17"):
        maven._require_java()
    maven._java_checked.clear()


def test_not_started_errors() -> None:
    kafka = LocalKafka()
    with pytest.raises(RuntimeError):
        _ = kafka.bootstrap_servers
    kafka.stop()  # idempotent, no-op
    kafka.stop()
    with pytest.raises(ValueError):
        LocalKafka(nodes=0)


def test_package_data_present() -> None:
    assert "kafka_2.13" in maven._package_text("kafka-pom.xml")
    assert "msgbus.kafka.logfile" in maven._package_text("log4j2.properties")


def test_cli_usage_and_args(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MSGBUS_STATE_DIR", str(tmp_path))
    assert cli_kafka._parse_nodes([]) == 1
    assert cli_kafka._parse_nodes(["--nodes", "3"]) == 3
    assert cli_kafka._parse_nodes(["--nodes=2"]) == 2
    with pytest.raises(ValueError):
        cli_kafka._parse_nodes(["--nodes", "x"])
    assert cli_kafka.main([]) == 2
    assert cli_kafka.main(["bogus"]) == 2
    assert cli_kafka.main(["start", "--nodes", "0"]) == 2
    assert cli_kafka.kafka_status() is None
    assert cli_kafka.main(["status"]) == 1
    assert cli_kafka.kafka_stop() is False
    assert "not running" in capsys.readouterr().out
    assert cli_kafka.state_file() == tmp_path / "localkafka-state.json"


def test_cli_stale_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MSGBUS_STATE_DIR", str(tmp_path))
    data = tmp_path / "msgbus-kafka-stale"
    data.mkdir()
    # pid 1 is never one of our brokers: it must not be signalled.
    daemon._write_state(
        {
            "bootstrap_servers": "127.0.0.1:1",
            "data_dir": str(data),
            "nodes": [{"id": 1, "pid": 1, "port": 1}],
        }
    )
    status = cli_kafka.kafka_status()
    assert status is not None and status["running"] is False
    assert status["alive_pids"] == []
    assert cli_kafka.kafka_stop() is True
    assert not data.exists()
    assert cli_kafka.kafka_status() is None


def test_wait_job_state_returns_once_every_thread_is_stopped_or_running() -> None:
    # pause_node() means paused: a JVM must not answer one more request after it returned.
    import os
    import signal
    import subprocess
    import sys

    from msgbus.testing._localkafka.processes import wait_job_state

    code = (
        "import threading, time\n"
        "for _ in range(4): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:

        def states() -> set[str]:
            tasks = f"/proc/{proc.pid}/task"
            return {open(f"{tasks}/{t}/stat").read().rsplit(")", 1)[1].split()[0] for t in os.listdir(tasks)}

        os.kill(proc.pid, signal.SIGSTOP)
        wait_job_state(proc, stopped=True)
        assert states() == {"T"}
        os.kill(proc.pid, signal.SIGCONT)
        wait_job_state(proc, stopped=False)
        assert "T" not in states()
    finally:
        proc.kill()
        proc.wait()
