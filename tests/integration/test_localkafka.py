"""Integration tests for msgbus.testing.LocalKafka: a real broker (needs Java
17+ and Maven; jars are resolved into the cache on first use)."""

from __future__ import annotations

import io
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from msgbus._cli import kafka as cli_kafka
from msgbus.testing import KafkaStartupError, LocalKafka

pytestmark = pytest.mark.integration


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _kafka_jvm_pids() -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    pids = set()
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "kafka.Kafka" in args and "msgbus.localkafka" in args:
            pids.add(int(pid))
    return {p for p in pids if _pid_alive(p)}


def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(topic, value)
    assert producer.flush(30) == 0


def _consume_one(bootstrap: str, topic: str, timeout: float = 30.0) -> bytes:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            value = msg.value()
            assert value is not None
            return value
        raise AssertionError(f"no message on {topic} within {timeout}s")
    finally:
        consumer.close()


def test_single_node_produce_consume() -> None:
    with LocalKafka() as kafka:
        assert kafka.host == "127.0.0.1"
        assert kafka.bootstrap_servers == f"127.0.0.1:{kafka.port}"
        assert kafka.startup_seconds is not None and kafka.startup_seconds > 0
        pid = kafka.pids[1]
        assert pid is not None and _pid_alive(pid)
        data_dir = kafka.data_dir
        assert data_dir is not None and data_dir.is_dir()

        kafka.create_topic("created", partitions=2)
        assert kafka.leader("created", 1) == 1
        _produce(kafka.bootstrap_servers, "auto-created", b"hello")
        assert _consume_one(kafka.bootstrap_servers, "auto-created") == b"hello"
    assert not _pid_alive(pid)
    assert not data_dir.exists()
    kafka.stop()  # idempotent
    assert pid not in _kafka_jvm_pids()


def test_stop_node_start_node() -> None:
    with LocalKafka() as kafka:
        _produce(kafka.bootstrap_servers, "t", b"before")
        old_pid = kafka.pids[1]
        kafka.stop_node(1)
        assert kafka.pids[1] is None
        assert old_pid is not None and not _pid_alive(old_pid)
        kafka.start_node(1)
        assert kafka.pids[1] not in (None, old_pid)
        _produce(kafka.bootstrap_servers, "t", b"after")
        assert _consume_one(kafka.bootstrap_servers, "t") == b"before"

        kafka.kill_node(1)
        assert kafka.pids[1] is None
        kafka.start_node(1)
        _produce(kafka.bootstrap_servers, "t2", b"after-kill")
        assert _consume_one(kafka.bootstrap_servers, "t2") == b"after-kill"


def test_a_node_started_from_a_short_lived_thread_outlives_it() -> None:
    # Linux's parent-death signal follows the thread that forked: LocalKafka must
    # not tie a JVM's life to whichever thread happened to call start_node().
    with LocalKafka() as kafka:
        kafka.stop_node(1)
        starter = threading.Thread(target=kafka.start_node, args=(1,))
        starter.start()
        starter.join()
        time.sleep(2.0)
        pid = kafka.pids[1]
        assert pid is not None and _pid_alive(pid)
        _produce(kafka.bootstrap_servers, "t3", b"still-up")
        assert _consume_one(kafka.bootstrap_servers, "t3") == b"still-up"


def test_stop_after_pause() -> None:
    kafka = LocalKafka().start()
    pid = kafka.pids[1]
    assert pid is not None
    kafka.pause_node(1)
    kafka.stop()  # a SIGSTOPped JVM must still go away
    assert not _pid_alive(pid)


def test_cli_start_status_stop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("MSGBUS_STATE_DIR", raising=False)
    before = _kafka_jvm_pids()
    out = io.StringIO()
    assert cli_kafka.main(["start"], out=out) == 0
    try:
        bootstrap = out.getvalue().strip()
        assert bootstrap.startswith("127.0.0.1:")
        state_path = tmp_path / "msgbus" / "localkafka-state.json"
        assert state_path.is_file()

        status = cli_kafka.kafka_status()
        assert status is not None
        assert status["running"] is True
        assert status["bootstrap_servers"] == bootstrap
        pids = [n["pid"] for n in status["nodes"]]
        assert all(_pid_alive(p) for p in pids)
        data_dir = Path(status["data_dir"])
        assert data_dir.is_dir()

        out = io.StringIO()
        assert cli_kafka.main(["status"], out=out) == 0
        assert bootstrap in out.getvalue()

        # a second start reuses the running cluster
        again = cli_kafka.kafka_start(1)
        assert again["already_running"] is True
        assert again["bootstrap_servers"] == bootstrap

        _produce(bootstrap, "cli", b"x")
    finally:
        assert cli_kafka.main(["stop"], out=io.StringIO()) == 0
    assert not any(_pid_alive(p) for p in pids)
    # stop keeps the data for the next start (issue 21); stop --delete drops it, and the state with it.
    assert data_dir.exists()
    assert cli_kafka.main(["stop", "--delete"], out=io.StringIO()) == 0
    assert not data_dir.exists()
    assert not state_path.exists()
    assert cli_kafka.kafka_status() is None
    assert cli_kafka.main(["status"], out=io.StringIO()) == 1
    assert _kafka_jvm_pids() <= before


@pytest.mark.slow
def test_three_nodes() -> None:
    with LocalKafka(nodes=3) as kafka:
        assert len(kafka.bootstrap_servers.split(",")) == 3
        kafka.create_topic("r3", partitions=3)
        leader = kafka.leader("r3", 0)
        assert leader in (1, 2, 3)
        _produce(kafka.bootstrap_servers, "r3", b"one")
        kafka.kill_node(leader)
        deadline = time.monotonic() + 30
        while kafka.leader("r3", 0) in (leader, -1):
            assert time.monotonic() < deadline, "no new leader elected"
            time.sleep(0.2)
        _produce(kafka.bootstrap_servers, "r3", b"two")
        kafka.start_node(leader)
        pids = [p for p in kafka.pids.values() if p is not None]
        assert len(pids) == 3
    assert not any(_pid_alive(p) for p in pids)


def test_early_exit_is_reported_and_cleaned_up() -> None:
    kafka = LocalKafka(jvm_flags=["-XX:+NoSuchJvmFlagForMsgbus"], startup_timeout=30)
    with pytest.raises(KafkaStartupError) as info:
        kafka.start()
    assert "exited early" in str(info.value)
    assert "NoSuchJvmFlagForMsgbus" in str(info.value)  # the JVM's own output
    assert not kafka.running
    assert kafka.data_dir is None
