"""The broker JVMs of LocalKafka: launching, watching and stopping them.

Nothing here may leak a JVM.  Brokers get a parent-death signal on Linux, so
they die with Python even when it is SIGKILLed; because Linux ties that signal
to the forking *thread*, they are launched from the main thread or one
long-lived launcher thread.  Stopping is SIGTERM (after SIGCONT, for a paused
node), then SIGKILL after a timeout, always reaped.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .broker_props import HOST

logger = logging.getLogger("msgbus.testing")

#: System property put on every broker command line; lets the CLI recognise
#: its own JVMs in /proc before signalling a recorded pid.
MARKER_PROPERTY = "msgbus.localkafka"


class KafkaStartupError(RuntimeError):
    """A broker process exited early or the cluster did not become ready."""


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open until all are known)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on loopback ``port`` (within ``timeout``)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def wait_job_state(proc: subprocess.Popen[bytes], stopped: bool, timeout: float = 5.0) -> None:
    """Wait until every thread of ``proc`` is stopped (SIGSTOP) or none is (SIGCONT).

    The kernel stops a process's threads one by one, once one of them has run to
    take the signal: on a loaded machine a JVM can still answer a request for a
    while after kill() returned. Waiting here makes pause_node() mean "paused".
    Bounded; gives up quietly (on a kernel without /proc the old behaviour stays).
    """
    deadline = time.monotonic() + timeout
    tasks = Path(f"/proc/{proc.pid}/task")
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            states = [(task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in tasks.iterdir()]
        except (OSError, IndexError):
            return
        # "T" stopped by a signal ("t": traced); anything else is running or sleeping.
        if states and all((state in "Tt") == stopped for state in states):
            return
        time.sleep(0.005)


def _terminate_all(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM all, wait up to ``timeout`` in total, SIGKILL the rest, reap."""
    for proc in procs:
        _signal(proc, signal.SIGTERM)
        _signal(proc, signal.SIGCONT)  # a paused JVM would never see the TERM
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.poll() is None:
            logger.warning("broker pid %d ignored SIGTERM for %.0fs: SIGKILL", proc.pid, timeout)
            _signal(proc, signal.SIGKILL)
            proc.wait()


def _die_with_parent_preexec(parent_pid: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl()
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


_PR_SET_PDEATHSIG = 1
_T = TypeVar("_T")

# Linux ties the parent-death signal to the *thread* that forked, not to the
# process: a JVM started from a short-lived thread (a threading.Timer, a
# worker) would be killed as soon as that thread ended. So JVMs are launched
# from the main thread, or else from this one long-lived launcher thread.
_launcher: concurrent.futures.ThreadPoolExecutor | None = None
_launcher_lock = threading.Lock()


def _on_long_lived_thread(launch: Callable[[], _T]) -> _T:
    global _launcher
    if threading.current_thread() is threading.main_thread():
        return launch()
    with _launcher_lock:
        if _launcher is None:
            _launcher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="localkafka-launcher")
    return _launcher.submit(launch).result()


@dataclass
class _Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    proc: subprocess.Popen[bytes] | None = None
    # With security=True: the SSL (mutual TLS) and SASL_SSL listeners' ports.
    ssl_port: int = 0
    sasl_ssl_port: int = 0

    @property
    def properties_file(self) -> Path:
        return self.directory / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.directory / "broker.log"

    @property
    def stdout_file(self) -> Path:
        return self.directory / "stdout.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def diagnostics(self) -> str:
        parts = []
        for path in (self.log_file, self.stdout_file):
            text = _tail(path)
            if text:
                parts.append(f"--- {path} (last lines) ---\n{text}")
        return "\n".join(parts) or "(no output)"


@dataclass
class _Runtime:
    """What must be cleaned up; shared with the finalizers (never holds the
    LocalKafka itself, so it can be garbage collected)."""

    nodes: list[_Node] = field(default_factory=list)
    data_dir: Path | None = None
    stop_timeout: float = 10.0

    def shutdown(self) -> None:
        procs = [n.proc for n in self.nodes if n.proc is not None]
        if procs:
            _terminate_all(procs, self.stop_timeout)
        for node in self.nodes:
            node.proc = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        self.nodes = []


def format_storage(
    node: _Node, java: str, classpath: str, log_config: Path, cluster_id: str, extra_args: Sequence[str]
) -> None:
    """Format ``node``'s data directory with Kafka's storage tool; raise KafkaStartupError if it fails."""
    cmd = [
        java,
        "-Xshare:auto",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dmsgbus.kafka.logfile={node.directory / 'format.log'}",
        "-cp",
        classpath,
        "kafka.tools.StorageTool",
        "format",
        "-t",
        cluster_id,
        "-c",
        str(node.properties_file),
        *extra_args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        out = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise KafkaStartupError(f"formatting node {node.node_id} failed (exit {proc.returncode}):\n{out}")


def launch(
    node: _Node,
    java: str,
    classpath: str,
    log_config: Path,
    data_dir: Path,
    *,
    heap_mb: int,
    jvm_flags: Sequence[str],
    die_with_parent: bool,
) -> None:
    """Start ``node``'s broker JVM in its own session, its output appended to its stdout file.

    The command line carries MARKER_PROPERTY=``data_dir`` so that the CLI can
    tell this JVM from an unrelated process that got the same pid later.
    """
    xms = min(256, heap_mb)
    cmd = [
        java,
        f"-Xms{xms}m",
        f"-Xmx{heap_mb}m",
        *jvm_flags,
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dmsgbus.kafka.logfile={node.log_file}",
        f"-D{MARKER_PROPERTY}={data_dir}",
        "-cp",
        classpath,
        "kafka.Kafka",
        str(node.properties_file),
    ]
    preexec = _die_with_parent_preexec(os.getpid()) if die_with_parent else None
    with open(node.stdout_file, "ab") as out:
        node.proc = _on_long_lived_thread(
            lambda: subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=node.directory,
                start_new_session=True,
                preexec_fn=preexec,
            )
        )
    logger.debug("launched node %d pid %d port %d", node.node_id, node.proc.pid, node.port)


def wait_ports(nodes: Sequence[_Node], deadline: float, startup_timeout: float) -> None:
    """Wait until every node's client port accepts connections; raise KafkaStartupError
    if one exits or ``deadline`` passes (``startup_timeout`` only words the message)."""
    pending = list(nodes)
    while pending:
        for node in list(pending):
            if node.proc is None or node.proc.poll() is not None:
                code = node.proc.returncode if node.proc is not None else None
                raise KafkaStartupError(
                    f"Kafka node {node.node_id} exited early (exit code {code}):\n{node.diagnostics()}"
                )
            if port_open(node.port, timeout=0.25):
                pending.remove(node)
        if not pending:
            return
        if time.monotonic() > deadline:
            details = "\n".join(n.diagnostics() for n in pending)
            raise KafkaStartupError(
                f"Kafka node(s) {[n.node_id for n in pending]} did not open their client "
                f"port within {startup_timeout:.0f}s:\n{details}"
            )
        time.sleep(0.05)
