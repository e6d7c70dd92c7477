"""metrics(), the Prometheus exposition over HTTP, and `msgbus lag` / `msgbus health` on a real broker."""

from __future__ import annotations

import json
import time

import pytest
from cli_run import run_msgbus
from ops_http import get
from prometheus_client.parser import text_string_to_metric_families

import msgbus
from msgbus.prometheus import serve_ops
from msgbus.testing import LocalKafka

from .helpers import BusFactory, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _lag(reader: msgbus.MsgBusIO) -> int:
    metrics = reader.metrics()
    assert isinstance(metrics, msgbus.ReaderMetrics)
    return metrics.lag


def _cli(kafka: LocalKafka, *args: str) -> tuple[int, str]:
    proc = run_msgbus([*args, "--bootstrap", kafka.bootstrap_servers])
    return proc.returncode, proc.stdout


def test_lag_rises_for_a_paused_reader_and_falls_to_zero(kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    group = f"g-{topic}"
    reader = buses.reader(topic, group_id=group, read_queue_size=10)
    writer = buses.writer(topic)
    writer.message_write_many([f"m{i}" for i in range(50)])
    wait_until(lambda: _lag(reader) >= 50, 20, "lag 50 while nothing is read")
    writer.message_write_many([f"n{i}" for i in range(30)])
    # The reader's inbox is full and fetching paused: the ends are asked of the broker.
    wait_until(lambda: _lag(reader) >= 80, 20, "lag 80 as the paused reader falls behind")
    code, out = _cli(kafka, "lag", "--group", group, "--topic", topic, "--json")
    assert code == 0, out
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["end"] == 80 and row["lag"] == 80 - row["committed"]
    # Behind, and no commit moves: stuck, with its own exit code.
    code, out = _cli(kafka, "health", "--group", group, "--topic", topic, "--window", "2")
    assert code == 3 and out.startswith("stuck:"), out
    read = 0
    while read < 80:
        read += len(reader.message_read_many(100, timeout=10))
    wait_until(lambda: _lag(reader) == 0, 20, "lag back to 0")
    wait_until(lambda: _cli(kafka, "lag", "--group", group, "--topic", topic)[1].split()[-1] == "0", 30, "cli lag 0")
    code, out = _cli(kafka, "health", "--group", group, "--topic", topic, "--window", "1")
    assert code == 0 and out.startswith("idle:"), out


def _scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    code, text = get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_every_prometheus_metric_over_http(buses: BusFactory, topic: str) -> None:
    group = f"g-{topic}"
    reader = buses.reader(topic, group_id=group, timings=True)
    writer = buses.writer(topic, timings=True)

    def handler(msg: str) -> None:
        if msg == "bad":
            raise ValueError("a bad message")

    reader.register_cb(handler)
    for msg in ["a", "b", "bad", "c"]:
        writer.message_write(msg)
    with serve_ops(0, host="127.0.0.1", buses=lambda: [reader, writer]) as ops:
        wait_until(lambda: reader.health().status is msgbus.HealthStatus.IDLE, 20, "all handled")
        metrics = reader.metrics()
        assert isinstance(metrics, msgbus.ReaderMetrics)
        wait_until(lambda: reader.metrics().since_last_commit is not None, 20, "a commit confirmed")  # type: ignore[union-attr]
        s = _scrape(ops.port)
    r = (("group", group), ("topic", topic))
    w = (("topic", topic),)
    assert s["msgbus_reader_lag_messages"] == {(("group", group), ("partition", "0"), ("topic", topic)): 0.0}
    assert s["msgbus_reader_queued_messages"][r] == 0
    assert s["msgbus_reader_held_messages"][r] == 0
    assert s["msgbus_reader_oldest_held_age_seconds"][r] == 0
    assert abs(s["msgbus_reader_last_commit_timestamp_seconds"][r] - time.time()) < 30
    assert s["msgbus_reader_rebalances_total"][r] == 0
    assert s["msgbus_reader_rebalance_seconds_total"][r] == 0
    assert s["msgbus_reader_messages_read_total"][r] == 4
    assert s["msgbus_reader_messages_dropped_total"][r] == 1
    assert s["msgbus_reader_messages_retried_total"][r] == 0
    assert s["msgbus_reader_messages_dead_lettered_total"][r] == 0
    assert s["msgbus_reader_handler_duration_seconds_count"][r] == 4
    every = (("group", group), ("le", "+Inf"), ("topic", topic))
    assert s["msgbus_reader_handler_duration_seconds_bucket"][every] == 4
    assert 0 <= s["msgbus_reader_handler_duration_seconds_sum"][r] < 4
    assert s["msgbus_writer_messages_written_total"][w] == 4
    assert s["msgbus_writer_messages_delivered_total"][w] == 4
    assert s["msgbus_writer_messages_failed_total"][w] == 0
    assert s["msgbus_writer_queued_messages"][w] == 0
    assert s["msgbus_writer_delivery_latency_seconds_count"][w] == 4
    assert s["msgbus_writer_delivery_latency_seconds_sum"][w] > 0
    health = s["msgbus_health_status"]
    assert health[(("direction", "reader"), ("group", group), ("status", "idle"), ("topic", topic))] == 1
    assert health[(("direction", "reader"), ("group", group), ("status", "stuck"), ("topic", topic))] == 0
    assert sum(v for k, v in health.items() if ("direction", "writer") in k) == 1


def test_msgbus_write_sets_headers(kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    reader = buses.reader(topic)
    code, out = _cli(kafka, "write", "--topic", topic, "--header", "source=cli", "--header", "k=a=b", "hello")
    assert code == 0, out
    record = reader.read_record(timeout=20)
    assert record is not None and record.text == "hello"
    assert record.headers == (("source", b"cli"), ("k", b"a=b"))
    proc = run_msgbus(["write", "--topic", topic, "--header", "novalue", "x", "--bootstrap", kafka.bootstrap_servers])
    assert proc.returncode == 2 and "'novalue' is not NAME=VALUE" in proc.stderr
