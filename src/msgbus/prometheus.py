"""Prometheus metrics and Kubernetes probes for the buses of this process (the ``prometheus`` extra).

``MsgBusCollector`` turns every open bus's ``metrics()`` and ``health()`` into
Prometheus metric families; ``serve_ops(port)`` serves them on ``/metrics``,
with ``/livez`` and ``/readyz`` for Kubernetes probes::

    ops = msgbus.serve_ops(8080)   # opt-in; ops.close() stops it

Liveness fails only when a bus is stuck or failed for good (a restart may
help); readiness needs every bus ok or idle (connected, assigned, not
rebalancing, its broker answering).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError as exc:  # pragma: no cover - the extra is installed in the dev environment
    raise ImportError(
        f"msgbus.prometheus needs prometheus-client: pip install 'hms-msgbus[prometheus]' ({exc})"
    ) from exc

from ._backends.base import MsgBusIO, ReaderBase, WriterBase
from ._ops import live
from ._ops.health import Health, HealthStatus
from ._ops.metrics import ReaderMetrics, Timing, WriterMetrics

__all__ = ["MsgBusCollector", "OpsServer", "serve_ops"]

Labels = tuple[str, ...]


class _Family:
    """One metric family's samples by label values; samples of buses with the same labels add up."""

    def __init__(
        self, kind: str, name: str, doc: str, labels: Labels, combine: Callable[[float, float], float]
    ) -> None:
        self.kind, self.name, self.doc, self.labels = kind, name, doc, labels
        self._combine = combine
        self.values: dict[Labels, float] = {}

    def add(self, labels: Labels, value: float) -> None:
        old = self.values.get(labels)
        self.values[labels] = value if old is None else self._combine(old, value)

    def metric(self) -> Metric:
        family: Any
        if self.kind == "counter":
            family = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        else:
            family = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        return family  # type: ignore[no-any-return]


def _add(a: float, b: float) -> float:
    return a + b


_READER = ("topic", "group")
_PARTITION = ("topic", "group", "partition")
_WRITER = ("topic",)


class _Families:
    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}
        self._histograms: dict[str, tuple[str, Labels, dict[Labels, Timing]]] = {}

    def gauge(self, name: str, doc: str, labels: Labels, values: Labels, value: float, combine: Any = _add) -> None:
        self._family("gauge", name, doc, labels, combine).add(values, value)

    def counter(self, name: str, doc: str, labels: Labels, values: Labels, value: float) -> None:
        self._family("counter", name, doc, labels, _add).add(values, value)

    def histogram(self, name: str, doc: str, labels: Labels, values: Labels, timing: Timing) -> None:
        _, _, by_labels = self._histograms.setdefault(name, (doc, labels, {}))
        old = by_labels.get(values)
        if old is not None:
            buckets = tuple((bound, a + b) for (bound, a), (_, b) in zip(old.buckets, timing.buckets, strict=True))
            timing = Timing(old.count + timing.count, old.total + timing.total, max(old.max, timing.max), buckets)
        by_labels[values] = timing

    def _family(self, kind: str, name: str, doc: str, labels: Labels, combine: Any) -> _Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = _Family(kind, name, doc, labels, combine)
        return family

    def metrics(self) -> Iterator[Metric]:
        for family in self._families.values():
            yield family.metric()
        for name, (doc, labels, by_labels) in self._histograms.items():
            histogram = HistogramMetricFamily(name, doc, labels=labels)
            for values, timing in by_labels.items():
                buckets = [(_bound(bound), float(count)) for bound, count in timing.buckets]
                buckets.append(("+Inf", float(timing.count)))
                histogram.add_metric(list(values), buckets, timing.total)
            yield histogram


def _bound(bound: float) -> str:
    return repr(float(bound))


def _reader(out: _Families, m: ReaderMetrics, health: Health) -> None:
    where = (m.topic, m.group)
    for p in m.partitions:
        if p.lag is not None:
            out.gauge(
                "msgbus_reader_lag_messages",
                "Messages on the partition not finished by the reader: its end minus the finished offset.",
                _PARTITION,
                (*where, str(p.partition)),
                p.lag,
            )
    out.gauge("msgbus_reader_queued_messages", "Messages waiting in the reader, not taken.", _READER, where, m.queued)
    out.gauge("msgbus_reader_held_messages", "Messages taken by the application, not finished.", _READER, where, m.held)
    out.gauge(
        "msgbus_reader_oldest_held_age_seconds",
        "How long the application has held its oldest unfinished message (0: none held).",
        _READER,
        where,
        m.oldest_held_age or 0.0,
        max,
    )
    if m.since_last_commit is not None:
        out.gauge(
            "msgbus_reader_last_commit_timestamp_seconds",
            "When the broker last confirmed a commit of the reader's offsets (Unix time).",
            _READER,
            where,
            time.time() - m.since_last_commit,
            max,
        )
    out.counter("msgbus_reader_rebalances", "Rebalances the reader went through.", _READER, where, m.rebalances)
    out.counter(
        "msgbus_reader_rebalance_seconds",
        "Seconds the reader spent in rebalances.",
        _READER,
        where,
        m.rebalance_seconds,
    )
    for name, doc, value in (
        ("msgbus_reader_messages_read", "Messages handed to the application.", m.read),
        ("msgbus_reader_messages_retried", "Failed handler attempts that were retried.", m.retried),
        ("msgbus_reader_messages_dead_lettered", "Messages written to the dead-letter topic.", m.dead_lettered),
        ("msgbus_reader_messages_dropped", "Messages whose handler failed, counted finished anyway.", m.dropped),
    ):
        out.counter(name, doc, _READER, where, value)
    out.histogram(
        "msgbus_reader_handler_duration_seconds",
        "How long each handler or callback call took (with timings=True).",
        _READER,
        where,
        m.handler,
    )
    _health(out, ("direction", *_READER), ("reader", *where), health)


def _writer(out: _Families, m: WriterMetrics, health: Health) -> None:
    where = (m.topic,)
    for name, doc, value in (
        ("msgbus_writer_messages_written", "Messages the writer accepted.", m.written),
        ("msgbus_writer_messages_delivered", "Written messages the broker acknowledged.", m.delivered),
        ("msgbus_writer_messages_failed", "Written messages that were not delivered.", m.failed),
    ):
        out.counter(name, doc, _WRITER, where, value)
    out.gauge(
        "msgbus_writer_queued_messages", "Messages waiting for the broker's acknowledgement.", _WRITER, where, m.queued
    )
    out.histogram(
        "msgbus_writer_delivery_latency_seconds",
        "How long Blocking writes waited for their acknowledgement (with timings=True).",
        _WRITER,
        where,
        m.delivery,
    )
    _health(out, ("direction", "topic", "group"), ("writer", m.topic, ""), health)


def _health(out: _Families, labels: Labels, values: Labels, health: Health) -> None:
    for status in HealthStatus:
        out.gauge(
            "msgbus_health_status",
            "1 for the bus's current health verdict (ok, idle, rebalancing, stuck, unreachable, closed), else 0.",
            (*labels, "status"),
            (*values, status.value),
            1.0 if health.status is status else 0.0,
            max,
        )


class MsgBusCollector(Collector):
    """A Prometheus collector of the buses of this process (default: every open one)."""

    def __init__(self, buses: Callable[[], Iterable[MsgBusIO]] = live.buses) -> None:
        self._buses = buses

    def collect(self) -> Iterator[Metric]:
        out = _Families()
        for bus in self._buses():
            if isinstance(bus, ReaderBase):
                _reader(out, bus.metrics(), bus.health())
            elif isinstance(bus, WriterBase):
                _writer(out, bus.metrics(), bus.health())
        yield from out.metrics()


def _verdicts(buses: Iterable[MsgBusIO]) -> list[tuple[MsgBusIO, Health]]:
    return [(bus, bus.health()) for bus in buses]


def _describe(verdicts: list[tuple[MsgBusIO, Health]]) -> bytes:
    body = [
        {
            "topic": getattr(bus, "topic", ""),
            "direction": "reader" if isinstance(bus, ReaderBase) else "writer",
            "status": health.status.value,
            "reason": health.reason,
        }
        for bus, health in verdicts
    ]
    return json.dumps(body).encode() + b"\n"


class OpsServer:
    """The HTTP endpoint ``serve_ops`` started: ``/metrics``, ``/livez``, ``/readyz``; ``close()`` stops it."""

    def __init__(self, host: str, port: int, buses: Callable[[], Iterable[MsgBusIO]]) -> None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(MsgBusCollector(buses))
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path in ("/livez", "/readyz"):
                    verdicts = _verdicts(server_self._buses())
                    if path == "/livez":
                        good = all(health.live for _, health in verdicts)
                    else:
                        good = bool(verdicts) and all(health.ready for _, health in verdicts)
                    self._answer(200 if good else 503, "application/json", _describe(verdicts))
                else:
                    self._answer(404, "text/plain", b"not found: try /metrics, /livez or /readyz\n")

            def _answer(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a probe every few seconds is not worth a log line

        self._buses = buses
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="msgbus-ops", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose, for port 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> OpsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_ops(port: int, host: str = "0.0.0.0", buses: Callable[[], Iterable[MsgBusIO]] = live.buses) -> OpsServer:
    """Serve ``/metrics`` (Prometheus), ``/livez`` and ``/readyz`` (Kubernetes probes) on ``host:port``.

    ``/livez`` answers 200 unless a bus is stuck or failed for good (503);
    ``/readyz`` answers 200 while every bus is ok or idle, 503 otherwise (also before
    any bus is open). Both bodies list each bus's verdict as JSON. ``port=0`` lets the
    OS choose (``OpsServer.port`` says which); ``buses`` defaults to every open bus.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, not {port!r}")
    return OpsServer(host, port, buses)
