"""``MockKafka``: librdkafka's own in-process mock cluster, reachable over loopback.

It exercises msgbus's real Kafka code path (the same librdkafka clients and
settings) without Java. The cluster runs on librdkafka threads inside this
process; any client in the process (or another process) reaches it at
``bootstrap_servers``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from typing import Any

import confluent_kafka

from .._config import BusDir, MsgBusConfig
from .._managed import Managed

__all__ = ["MockKafka", "MockKafkaError"]

_RD_KAFKA_PRODUCER = 0
_ERRSTR_SIZE = 512
# RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
_TOPIC_ALREADY_EXISTS = 36


class MockKafkaError(RuntimeError):
    """The mock cluster could not be created or used (librdkafka not found, or it refused)."""


def _librdkafka_path() -> str:
    """The librdkafka that confluent-kafka loaded (bundled in its wheel, else the system's)."""
    package = os.path.dirname(os.path.abspath(confluent_kafka.__file__))
    site = os.path.dirname(package)
    patterns = [
        os.path.join(site, "confluent_kafka.libs", "librdkafka*.so*"),  # Linux wheels (auditwheel)
        os.path.join(package, ".dylibs", "librdkafka*.dylib"),  # macOS wheels (delocate)
        os.path.join(package, "librdkafka*.so*"),
    ]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    import ctypes.util

    system = ctypes.util.find_library("rdkafka")
    if system:
        return system
    raise MockKafkaError("cannot find the librdkafka library that confluent-kafka uses")


def _bind(lib: ctypes.CDLL) -> None:
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "rd_kafka_conf_new": (vp, []),
        "rd_kafka_conf_set": (i, [vp, cp, cp, cp, ctypes.c_size_t]),
        "rd_kafka_new": (vp, [i, vp, cp, ctypes.c_size_t]),
        "rd_kafka_destroy": (None, [vp]),
        "rd_kafka_mock_cluster_new": (vp, [vp, i]),
        "rd_kafka_mock_cluster_destroy": (None, [vp]),
        "rd_kafka_mock_cluster_bootstraps": (cp, [vp]),
        "rd_kafka_mock_topic_create": (i, [vp, cp, i, i]),
        "rd_kafka_err2str": (cp, [i]),
        "rd_kafka_mock_group_initial_rebalance_delay_ms": (None, [vp, ctypes.c_int32]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


class MockKafka(Managed):
    """An in-process Kafka mock cluster (librdkafka's ``rd_kafka_mock_cluster``).

    Use it as a context manager (or ``start`` / ``stop``)::

        with MockKafka() as kafka:
            cfg = kafka.config("events", msgbus.BusReader)   # creates "events" with one partition
            ...

    Topics made with ``create_topic`` (and so ``config``) have one
    partition, so that order holds. A topic a client creates by just using
    it gets librdkafka's default of several partitions, and null-key
    messages are then spread over them out of order.
    """

    def __init__(self, brokers: int = 1) -> None:
        self.brokers = brokers
        self._lib: ctypes.CDLL | None = None
        self._handle: int | None = None
        self._cluster: int | None = None
        self._bootstrap = ""
        self._lock = threading.Lock()

    @property
    def bootstrap_servers(self) -> str:
        """The mock brokers' addresses, ``"127.0.0.1:PORT[,...]"``."""
        if not self._bootstrap:
            raise MockKafkaError("the mock cluster is not running; call start() first")
        return self._bootstrap

    @property
    def running(self) -> bool:
        """Whether the cluster is up."""
        return self._cluster is not None

    def start(self) -> MockKafka:
        """Create the mock cluster (a second call does nothing)."""
        with self._lock:
            if self._cluster is not None:
                return self
            lib = ctypes.CDLL(_librdkafka_path())
            _bind(lib)
            errstr = ctypes.create_string_buffer(_ERRSTR_SIZE)
            conf = lib.rd_kafka_conf_new()
            # The mock's own client handle logs only errors.
            lib.rd_kafka_conf_set(conf, b"log_level", b"3", errstr, _ERRSTR_SIZE)
            handle = lib.rd_kafka_new(_RD_KAFKA_PRODUCER, conf, errstr, _ERRSTR_SIZE)
            if not handle:
                raise MockKafkaError(f"librdkafka refused to create a handle: {errstr.value.decode()}")
            cluster = lib.rd_kafka_mock_cluster_new(handle, self.brokers)
            if not cluster:
                lib.rd_kafka_destroy(handle)
                raise MockKafkaError("librdkafka could not create a mock cluster")
            # Kafka waits 3 s for more members before a new group's first rebalance; tests need not.
            lib.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0)
            self._lib, self._handle, self._cluster = lib, handle, cluster
            self._bootstrap = lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()
        return self

    def create_topic(self, name: str, partitions: int = 1, *, exist_ok: bool = False) -> None:
        """Create ``name`` with ``partitions`` partitions (default 1, so that order holds)."""
        with self._lock:
            if self._lib is None or self._cluster is None:
                raise MockKafkaError("the mock cluster is not running; call start() first")
            err = self._lib.rd_kafka_mock_topic_create(self._cluster, name.encode(), partitions, min(self.brokers, 3))
            if err == _TOPIC_ALREADY_EXISTS and exist_ok:
                return
            if err:
                raise MockKafkaError(f"creating topic {name!r}: {self._lib.rd_kafka_err2str(err).decode()}")

    def config(self, topic: str, direction: BusDir, **fields: Any) -> MsgBusConfig:
        """A Kafka ``MsgBusConfig`` for this cluster; creates ``topic`` with one partition first."""
        self.create_topic(topic, exist_ok=True)
        settings: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers, "connect_retries": 3}
        settings.update(fields)
        return MsgBusConfig(topic=topic, direction=direction, **settings)

    def stop(self) -> None:
        """Destroy the cluster; clients still connected see their broker go away."""
        with self._lock:
            if self._lib is None:
                return
            if self._cluster is not None:
                self._lib.rd_kafka_mock_cluster_destroy(self._cluster)
            if self._handle is not None:
                self._lib.rd_kafka_destroy(self._handle)
            self._lib = self._handle = self._cluster = None
            self._bootstrap = ""

    def _enter(self) -> None:
        self.start()

    def _exit(self) -> None:
        self.stop()
