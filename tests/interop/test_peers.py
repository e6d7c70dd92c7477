"""msgbus and peers nobody here wrote, on the same topics, byte for byte.

* the Go peer (``interop/gopeer``): confluent-kafka-go/v2 configured as the Go
  original (github.com/Cray-HPE/hms-msgbus) is, since that module is not
  served by the Go module proxy;
* kcat, from Debian's packages.

Every payload goes both ways with each peer. Peers exchange payloads as hex
(Go) or length-prefixed (kcat), so multi-line and empty payloads compare
exactly. Each test writes the payload and then a sentinel, so that a payload
a peer drops (the Go original drops empty messages on read) shows as absent
rather than as a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from integration.helpers import BusFactory, make_config, raw_read_all, read_n

import msgbus
from msgbus.testing import LocalKafka

pytestmark = [pytest.mark.integration, pytest.mark.interop]

ROOT = Path(__file__).resolve().parents[2]
GOPEER_SRC = ROOT / "interop" / "gopeer"
GOPEER_BIN = ROOT / "interop" / "bin" / "gopeer"
PEER_TIMEOUT = 90.0
SENTINEL = "sentinel: the end"


def _big() -> str:
    """About 900 KB of text with one-, two-, three- and four-byte characters and newlines."""
    unit = "The Rain In Spain ß é 日本語 🎉\n"
    text = unit * (900 * 1024 // len(unit.encode("utf-8")) + 1)
    data = text.encode("utf-8")[: 900 * 1024]
    return data.decode("utf-8", "ignore")


PAYLOADS = {
    "ascii": "The Rain In Spain",
    "utf8": "grüße, naïve café; 日本語のメッセージ; emoji 🎉🚀; two\nlines\r\nand a tab\t.",
    "900KB": _big(),
    "empty": "",
}


# -- peers -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gopeer() -> Path:
    """The Go peer, built once per session (``make gopeer`` builds it too)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: the Go peer interop tests are skipped")
    sources = [GOPEER_SRC / "main.go", GOPEER_SRC / "go.mod", GOPEER_SRC / "go.sum"]
    if not GOPEER_BIN.exists() or GOPEER_BIN.stat().st_mtime < max(p.stat().st_mtime for p in sources):
        env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="1")
        proc = subprocess.run(
            [go, "build", "-o", str(GOPEER_BIN), "."],
            cwd=GOPEER_SRC,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"building the Go peer failed:\n{proc.stdout}{proc.stderr}")
    return GOPEER_BIN


@pytest.fixture(scope="session")
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.skip("kcat is not installed (`apt-get install kcat`, or `make interop`): kcat interop tests are skipped")
    return path


@pytest.fixture
def buses(kafka: LocalKafka) -> Iterator[BusFactory]:
    with BusFactory(kafka) as factory:
        yield factory


def start_at_beginning(kafka: LocalKafka, topic: str, group: str, partitions: int = 1) -> None:
    """Commit offset 0 for ``group``, so that a reader of that group (the Go
    peer's ``latest`` reset notwithstanding) reads the topic from its start."""
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, 0) for p in range(partitions)], asynchronous=False)
    finally:
        consumer.close()


def go_write(gopeer: Path, kafka: LocalKafka, topic: str, messages: list[str]) -> None:
    lines = "".join(m.encode("utf-8").hex() + "\n" for m in messages)
    proc = subprocess.run(
        [str(gopeer), "write", "-brokers", kafka.bootstrap_servers, "-topic", topic],
        input=lines.encode("ascii"),
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def go_read_command(gopeer: Path, kafka: LocalKafka, topic: str, group: str, count: int, timeout: int) -> list[str]:
    """The Go peer reading ``count`` messages (0: until its stdin closes), for at most ``timeout`` seconds."""
    where = ["-brokers", kafka.bootstrap_servers, "-topic", topic, "-group", group]
    return [str(gopeer), "read", *where, "-n", str(count), "-timeout", str(timeout)]


def go_read(gopeer: Path, kafka: LocalKafka, topic: str, group: str, count: int) -> list[bytes]:
    proc = subprocess.run(
        go_read_command(gopeer, kafka, topic, group, count, 60),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return [bytes.fromhex(line) for line in proc.stdout.decode("ascii").splitlines()]


# kcat's producer skips empty input records; a record "<key>\x1f<value>" with an
# empty key gives an empty value (the key is empty too, and msgbus ignores keys).
_KCAT_KEY_DELIM = "\x1f"
_KCAT_MSG_DELIM = "\x1e"


def kcat_write(kcat: str, kafka: LocalKafka, topic: str, messages: list[str]) -> None:
    for msg in messages:
        assert _KCAT_MSG_DELIM not in msg and _KCAT_KEY_DELIM not in msg
    data = "".join(_KCAT_KEY_DELIM + m + _KCAT_MSG_DELIM for m in messages).encode("utf-8")
    proc = subprocess.run(
        [
            kcat,
            "-b",
            kafka.bootstrap_servers,
            "-P",
            "-t",
            topic,
            "-D",
            _KCAT_MSG_DELIM,
            "-K",
            _KCAT_KEY_DELIM,
            "-X",
            "message.max.bytes=2000000",
        ],
        input=data,
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def kcat_read(kcat: str, kafka: LocalKafka, topic: str, count: int) -> list[bytes]:
    proc = subprocess.run(
        [
            kcat,
            "-b",
            kafka.bootstrap_servers,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-c",
            str(count),
            "-q",
            "-f",
            "%S:%s\n",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PEER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return parse_length_prefixed(proc.stdout)


def parse_length_prefixed(out: bytes) -> list[bytes]:
    """kcat's ``%S:%s\\n`` records: the value's length (-1 for a null value), ':', the value, newline."""
    values: list[bytes] = []
    pos = 0
    while pos < len(out):
        colon = out.index(b":", pos)
        length = int(out[pos:colon])
        start = colon + 1
        value = out[start : start + max(length, 0)]
        assert len(value) == max(length, 0)
        values.append(value)
        pos = start + max(length, 0)
        assert out[pos : pos + 1] == b"\n", f"bad record framing at {pos}"
        pos += 1
    return values


def msgbus_write(buses: BusFactory, topic: str, messages: list[str]) -> None:
    writer = buses.writer(topic)
    for msg in messages:
        writer.message_write(msg)


# -- the matrix: payload x peer x direction ---------------------------------------------------------


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_msgbus_to_go(payload: str, gopeer: Path, kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    text = PAYLOADS[payload]
    msgbus_write(buses, topic, [text, SENTINEL])
    group = f"go-{uuid.uuid4().hex[:8]}"
    start_at_beginning(kafka, topic, group)
    # The Go original drops empty messages on read: it gets only the sentinel.
    expected = ([text] if text else []) + [SENTINEL]
    got = go_read(gopeer, kafka, topic, group, len(expected))
    assert got == [m.encode("utf-8") for m in expected]
    if not text:
        # ...although the empty message is on the topic, as msgbus wrote it.
        assert raw_read_all(kafka, topic, 2) == [b"", SENTINEL.encode()]


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_go_to_msgbus(payload: str, gopeer: Path, kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    text = PAYLOADS[payload]
    reader = buses.reader(topic)
    go_write(gopeer, kafka, topic, [text, SENTINEL])
    # msgbus delivers an empty message as "" (the Go original would drop it).
    assert read_n(reader, 2, timeout=30) == [text, SENTINEL]
    assert raw_read_all(kafka, topic, 2) == [text.encode("utf-8"), SENTINEL.encode()]


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_msgbus_to_kcat(payload: str, kcat: str, kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    text = PAYLOADS[payload]
    msgbus_write(buses, topic, [text, SENTINEL])
    assert kcat_read(kcat, kafka, topic, 2) == [text.encode("utf-8"), SENTINEL.encode()]


@pytest.mark.parametrize("payload", list(PAYLOADS), ids=list(PAYLOADS))
def test_kcat_to_msgbus(payload: str, kcat: str, kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    text = PAYLOADS[payload]
    reader = buses.reader(topic)
    kcat_write(kcat, kafka, topic, [text, SENTINEL])
    assert read_n(reader, 2, timeout=30) == [text, SENTINEL]
    assert raw_read_all(kafka, topic, 2) == [text.encode("utf-8"), SENTINEL.encode()]


def test_all_payloads_in_one_stream_go_to_msgbus_and_back(
    gopeer: Path, kafka: LocalKafka, buses: BusFactory, topic: str
) -> None:
    """Several payloads back to back keep their order and boundaries."""
    messages = [PAYLOADS["ascii"], PAYLOADS["utf8"], PAYLOADS["900KB"], PAYLOADS["utf8"] * 3, SENTINEL]
    reader = buses.reader(topic)
    go_write(gopeer, kafka, topic, messages)
    assert read_n(reader, len(messages), timeout=30) == messages
    back = f"{topic}-back"
    msgbus_write(buses, back, messages)
    group = f"go-{uuid.uuid4().hex[:8]}"
    start_at_beginning(kafka, back, group)
    assert go_read(gopeer, kafka, back, group, len(messages)) == [m.encode("utf-8") for m in messages]


# -- a Go reader and a msgbus reader in one group ----------------------------------------------------


class GoReader:
    """The Go peer reading until its stdin closes; collects messages and assignments."""

    def __init__(self, gopeer: Path, kafka: LocalKafka, topic: str, group: str) -> None:
        self.proc = subprocess.Popen(
            go_read_command(gopeer, kafka, topic, group, 0, 300),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.messages: list[bytes] = []
        self.assignments: list[str] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._stdout, daemon=True),
            threading.Thread(target=self._stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.messages.append(bytes.fromhex(line.decode("ascii").strip()))

    def _stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").strip()
            self.stderr.append(line)
            if line.startswith("assigned "):
                self.assignments.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for thread in self._threads:
            thread.join(10)


def wait_for(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.05)


def test_go_and_msgbus_readers_share_a_group(gopeer: Path, kafka: LocalKafka, buses: BusFactory, topic: str) -> None:
    kafka.create_topic(topic, partitions=2)
    group = f"shared-{uuid.uuid4().hex[:8]}"
    start_at_beginning(kafka, topic, group, partitions=2)
    go = GoReader(gopeer, kafka, topic, group)
    try:
        wait_for(lambda: go.assignments, 60, f"the Go reader's first assignment ({go.stderr})")
        reader = buses.connect(make_config(kafka, topic, msgbus.BusReader, group_id=group, connect_timeout=15))
        # After the rebalance each member owns one of the two partitions.
        wait_for(
            lambda: bool(go.assignments) and go.assignments[-1] in ("assigned [0]", "assigned [1]"),
            60,
            f"the Go reader to own one partition ({go.stderr})",
        )
        total = 200
        sent = [f"shared message {i} ✓" for i in range(total)]
        msgbus_write(buses, topic, sent)
        ours: list[str] = []

        def drain() -> bool:
            while (msg := reader.message_read(timeout=0.05)) is not None:
                ours.append(msg)
            return len(ours) + len(go.messages) >= total

        wait_for(drain, 60, f"all {total} messages between the two readers")
        time.sleep(2)  # room for any duplicate to show up
        drain()
    finally:
        go.stop()
    theirs = [m.decode("utf-8") for m in go.messages]
    assert ours and theirs, f"both members should get messages (msgbus {len(ours)}, Go {len(theirs)})"
    assert len(ours) + len(theirs) == total, "a message was delivered twice"
    assert sorted(ours + theirs) == sorted(sent), "a message was lost"


# -- tracing on: the trace context rides in headers, the payload is unchanged ----------------------


@pytest.mark.parametrize("payload", ["ascii", "utf8"])
def test_traced_msgbus_to_go_keeps_the_payload(
    payload: str, gopeer: Path, kafka: LocalKafka, buses: BusFactory, topic: str
) -> None:
    from otel_memory import exporter

    spans = exporter()
    text = PAYLOADS[payload]
    writer = buses.writer(topic, tracing=True)
    for msg in (text, SENTINEL):
        writer.message_write(msg)
    assert len(spans.get_finished_spans()) == 2  # the writes were traced: their headers carry a context
    group = f"go-{uuid.uuid4().hex[:8]}"
    start_at_beginning(kafka, topic, group)
    assert go_read(gopeer, kafka, topic, group, 2) == [text.encode("utf-8"), SENTINEL.encode()]
    assert raw_read_all(kafka, topic, 2) == [text.encode("utf-8"), SENTINEL.encode()]
