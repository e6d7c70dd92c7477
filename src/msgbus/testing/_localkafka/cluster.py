"""``LocalKafka``: the cluster itself (``msgbus.testing.localkafka``, its public face, says what it is for).

It resolves the broker jars with ``maven`` into a cache directory, formats a fresh data directory
per start and launches one combined broker+controller JVM per node; every JVM is stopped when the
context exits, when ``stop()`` is called, when the object is garbage collected, or at interpreter
exit, whichever is first.

Its parts live beside it so that each can be read alone: ``broker_props``
(the server properties), ``maven`` (Java, Maven and the jar cache),
``processes`` (launching, watching and stopping the JVMs), ``admin``
(readiness and topics, through an admin client) and ``security`` (TLS and SASL).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..._managed import Managed
from .admin import create_topic, new_admin_client, partition_leader, wait_metadata
from .broker_props import HOST, _broker_properties, _new_cluster_id, _render_properties
from .maven import (
    DEFAULT_KAFKA_VERSION,
    KafkaToolingError,
    _package_text,
    _require_java,
    default_cache_dir,
    default_kafka_version,
    ensure_jars,
)
from .processes import (
    KafkaStartupError,
    _free_ports,
    _Node,
    _Runtime,
    _signal,
    _terminate_all,
    format_storage,
    launch,
    wait_job_state,
    wait_ports,
)
from .security import KafkaSecurity, SecurityPlan

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "KafkaStartupError",
    "KafkaToolingError",
    "LocalKafka",
]

logger = logging.getLogger("msgbus.testing")

#: JVM flags tuned for a quick start of a small test broker (C1 only starts
#: about 0.5 s faster; pass ``jvm_flags`` to LocalKafka for long perf runs).
DEFAULT_JVM_FLAGS: tuple[str, ...] = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Xss512k",
    "-Djava.awt.headless=true",
)


class LocalKafka(Managed):
    """A throw-away Kafka cluster of ``nodes`` combined broker+controller JVMs."""

    host: str = HOST

    def __init__(
        self,
        nodes: int = 1,
        *,
        heap_mb: int = 512,
        cache_dir: str | os.PathLike[str] | None = None,
        kafka_version: str | None = None,
        startup_timeout: float = 120.0,
        extra_broker_props: dict[str, Any] | None = None,
        jvm_flags: Sequence[str] | None = None,
        stop_timeout: float = 10.0,
        die_with_parent: bool = True,
        security: bool = False,
        port: int | None = None,
        auto_create_topics: bool = True,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        if heap_mb < 64:
            raise ValueError("heap_mb must be >= 64")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be from 1 to 65535, not {port}")
        #: Node 1's client port, if fixed (``msgbus kafka start --port``); else every port is a free one.
        self.fixed_port = port
        self.nodes = nodes
        self.heap_mb = heap_mb
        # None: $MSGBUS_KAFKA_VERSION, else DEFAULT_KAFKA_VERSION (so one suite runs on any version).
        self.kafka_version = kafka_version or default_kafka_version()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(self.kafka_version)
        self.startup_timeout = startup_timeout
        # False: a topic must be created before use (auto.create.topics.enable=false), as many sites run Kafka.
        self.auto_create_topics = auto_create_topics
        self.extra_broker_props = {"auto.create.topics.enable": auto_create_topics, **(extra_broker_props or {})}
        self.jvm_flags = tuple(DEFAULT_JVM_FLAGS if jvm_flags is None else jvm_flags)
        # atexit/finalize do not run when Python itself is SIGKILLed or dies of
        # an unhandled SIGTERM (e.g. `timeout`): on Linux the kernel then kills
        # the JVMs too (PR_SET_PDEATHSIG).  Caveat: the death signal follows the
        # *thread* that launched the JVM, so start from a long-lived thread.
        self.die_with_parent = die_with_parent
        # security=True adds TLS (mutual) and SASL_SSL (SCRAM-SHA-512) listeners and ACLs
        # (see _security.py); what clients need is in .security once started.
        self.secure = security
        self.security: KafkaSecurity | None = None
        self._security_plan: SecurityPlan | None = None
        self.cluster_id: str | None = None
        self.startup_seconds: float | None = None
        self._lib: Path | None = None
        self._java: str | None = None
        self._admin_client: Any = None
        self._rt = _Runtime(stop_timeout=stop_timeout)
        self._finalizer = weakref.finalize(self, self._rt.shutdown)
        self._atexit_registered = False

    # -- addresses -------------------------------------------------------

    def _require_started(self) -> list[_Node]:
        if not self._rt.nodes:
            raise RuntimeError("LocalKafka is not started")
        return self._rt.nodes

    @property
    def port(self) -> int:
        """Client port of node 1."""
        return self._require_started()[0].port

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self._require_started()]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{HOST}:{n.port}" for n in self._require_started())

    @property
    def data_dir(self) -> Path | None:
        return self._rt.data_dir

    @property
    def pids(self) -> dict[int, int | None]:
        """Kafka node id -> pid of its running JVM (None when it is down)."""
        return {n.node_id: (n.proc.pid if n.alive() and n.proc else None) for n in self._rt.nodes}

    @property
    def running(self) -> bool:
        return bool(self._rt.nodes)

    # -- lifecycle -------------------------------------------------------

    def _enter(self) -> None:
        self.start()

    def _exit(self) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.bootstrap_servers if self.running else "stopped"
        return f"LocalKafka(nodes={self.nodes}, {state})"

    def start(self) -> LocalKafka:
        """Resolve jars (first use), format and launch all nodes, wait until ready."""
        if self._rt.nodes:
            raise RuntimeError("LocalKafka is already started")
        self._java = _require_java()
        self._lib = ensure_jars(self.kafka_version, self.cache_dir)
        if not self._atexit_registered:
            atexit.register(self._rt.shutdown)
            self._atexit_registered = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        data_dir = Path(tempfile.mkdtemp(prefix="msgbus-kafka-"))
        self._rt.data_dir = data_dir
        self.cluster_id = _new_cluster_id()
        flat = _free_ports((4 if self.secure else 2) * self.nodes)
        if self.fixed_port is not None:
            flat = [self.fixed_port, *[p for p in flat if p != self.fixed_port][: len(flat) - 1]]
        ports = [(flat[2 * i], flat[2 * i + 1]) for i in range(self.nodes)]
        plan = SecurityPlan(data_dir / "tls") if self.secure else None
        if plan is not None:
            plan.make_files()
        self._security_plan = plan
        log_config = data_dir / "log4j2.properties"
        log_config.write_text(_package_text("log4j2.properties"), encoding="utf-8")
        for node_id in range(1, self.nodes + 1):
            node_dir = data_dir / f"node-{node_id}"
            (node_dir / "data").mkdir(parents=True)
            node = _Node(node_id, ports[node_id - 1][0], ports[node_id - 1][1], node_dir)
            extra = dict(self.extra_broker_props)
            if plan is not None:
                base = 2 * self.nodes + 2 * (node_id - 1)
                node.ssl_port, node.sasl_ssl_port = flat[base], flat[base + 1]
                extra = plan.broker_properties(node.port, node.controller_port, node.ssl_port, node.sasl_ssl_port)
                extra.update(self.extra_broker_props)
            props = _broker_properties(node_id, ports, str(node_dir / "data"), extra)
            node.properties_file.write_text(_render_properties(props), encoding="utf-8")
            self._rt.nodes.append(node)
        self._format_all()

        t0 = time.monotonic()
        for node in self._rt.nodes:  # launch all before waiting on any
            self._launch(node)
        deadline = t0 + self.startup_timeout
        self._wait_ports(self._rt.nodes, deadline)
        self._wait_metadata(deadline)
        if plan is not None:
            plan.create_acls(self._admin())
            self.create_topic(plan.allowed_topic)
            self.security = plan.info([n.ssl_port for n in self._rt.nodes], [n.sasl_ssl_port for n in self._rt.nodes])
        self.startup_seconds = time.monotonic() - t0
        logger.info(
            "Kafka %s cluster of %d node(s) ready at %s in %.2fs (data %s)",
            self.kafka_version,
            self.nodes,
            self.bootstrap_servers,
            self.startup_seconds,
            data_dir,
        )

    def _classpath(self) -> str:
        assert self._lib is not None
        return str(self._lib / "*")

    def _format_all(self) -> None:
        assert self._java is not None and self.cluster_id is not None
        for node in self._rt.nodes:
            extra = self._security_plan.scram_format_args() if self._security_plan is not None else []
            format_storage(node, self._java, self._classpath(), self._log_config(), self.cluster_id, extra)

    def _log_config(self) -> Path:
        assert self._rt.data_dir is not None
        return self._rt.data_dir / "log4j2.properties"

    def _launch(self, node: _Node) -> None:
        assert self._java is not None and self._rt.data_dir is not None
        launch(
            node,
            self._java,
            self._classpath(),
            self._log_config(),
            self._rt.data_dir,
            heap_mb=self.heap_mb,
            jvm_flags=self.jvm_flags,
            die_with_parent=self.die_with_parent,
        )

    def _wait_ports(self, nodes: Sequence[_Node], deadline: float) -> None:
        wait_ports(nodes, deadline, self.startup_timeout)

    def _admin(self) -> Any:
        if self._admin_client is None:
            self._admin_client = new_admin_client(self.bootstrap_servers)
        return self._admin_client

    def _wait_metadata(self, deadline: float) -> None:
        wait_metadata(self._admin(), self._rt.nodes, deadline)

    def stop(self) -> None:
        """Stop every JVM (SIGTERM, SIGKILL after the stop timeout) and delete the
        data directory.  Safe to call more than once."""
        self._admin_client = None
        self.security = None
        if not self._rt.nodes and self._rt.data_dir is None:
            return
        t0 = time.monotonic()
        count = len(self._rt.nodes)
        self._rt.shutdown()
        logger.info("stopped Kafka cluster of %d node(s) in %.2fs", count, time.monotonic() - t0)

    def detach(self) -> dict[str, Any]:
        """Leave the running JVMs alone from now on (no stop at exit); returns
        what is needed to find and stop them later (used by the CLI)."""
        nodes = self._require_started()
        state: dict[str, Any] = {
            "kafka_version": self.kafka_version,
            "cluster_id": self.cluster_id,
            "bootstrap_servers": self.bootstrap_servers,
            "data_dir": str(self._rt.data_dir),
            "startup_seconds": self.startup_seconds,
            "nodes": [
                {
                    "id": n.node_id,
                    "pid": n.proc.pid if n.proc is not None else None,
                    "port": n.port,
                    "controller_port": n.controller_port,
                    "log": str(n.log_file),
                }
                for n in nodes
            ],
        }
        self._admin_client = None
        self._finalizer.detach()
        if self._atexit_registered:
            atexit.unregister(self._rt.shutdown)
            self._atexit_registered = False
        self._rt = _Runtime(stop_timeout=self._rt.stop_timeout)
        self._finalizer = weakref.finalize(self, self._rt.shutdown)
        return state

    # -- node control (node ids are 1..nodes) ------------------------------

    def _node(self, node_id: int) -> _Node:
        for node in self._require_started():
            if node.node_id == node_id:
                return node
        raise ValueError(f"no node {node_id}: nodes are 1..{self.nodes}")

    def kill_node(self, node_id: int) -> None:
        """SIGKILL a node (a crash)."""
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGKILL)
            node.proc.wait()
        logger.info("killed Kafka node %d", node_id)

    def stop_node(self, node_id: int, timeout: float | None = None) -> None:
        """SIGTERM a node (controlled shutdown) and wait; SIGKILL after ``timeout``."""
        node = self._node(node_id)
        if node.proc is not None:
            t0 = time.monotonic()
            _terminate_all([node.proc], self._rt.stop_timeout if timeout is None else timeout)
            logger.info("stopped Kafka node %d in %.2fs", node_id, time.monotonic() - t0)

    def start_node(self, node_id: int, timeout: float | None = None) -> None:
        """Restart a stopped/killed node on its old ports and data; wait for its port."""
        node = self._node(node_id)
        if node.alive():
            raise RuntimeError(f"Kafka node {node_id} is still running")
        t0 = time.monotonic()
        self._launch(node)
        self._wait_ports([node], t0 + (self.startup_timeout if timeout is None else timeout))
        logger.info("restarted Kafka node %d in %.2fs", node_id, time.monotonic() - t0)

    def pause_node(self, node_id: int) -> None:
        """SIGSTOP a node (it hangs without closing its sockets)."""
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGSTOP)
            wait_job_state(node.proc, stopped=True)

    def resume_node(self, node_id: int) -> None:
        node = self._node(node_id)
        if node.proc is not None:
            _signal(node.proc, signal.SIGCONT)
            wait_job_state(node.proc, stopped=False)

    # -- admin helpers -----------------------------------------------------

    def leader(self, topic: str, partition: int = 0, timeout: float = 10.0) -> int:
        """Node id of the current leader of ``topic``/``partition`` (-1: none)."""
        return partition_leader(self._admin(), topic, partition, timeout)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        replication_factor: int | None = None,
        config: Mapping[str, object] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create a topic and wait until every partition has a leader."""
        rf = min(3, self.nodes) if replication_factor is None else replication_factor
        create_topic(self._admin(), name, partitions, rf, config, timeout)
