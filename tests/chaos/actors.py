"""Writers and synchronous readers, each on threads of its own, using only msgbus's public API."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator

import msgbus

from .record import ACKED, MAYBE, ReaderRec, Recorder, WriteRec
from .schedule import ReaderPlan, WriterPlan

#: A connect or disconnect still running after this long is reported hung.
HUNG_AFTER = 90.0


class Ctx:
    """What every actor of one run shares."""

    def __init__(self, rec: Recorder, bootstrap: str, group_protocol: str = "classic") -> None:
        self.rec = rec
        self.bootstrap = bootstrap
        self.group_protocol = group_protocol  # every reader's (MsgBusConfig.group_protocol)
        self.ending = threading.Event()  # the run's time is up: writers finish their session
        self.draining = threading.Event()  # slow readers turn fast, callbacks are registered
        self.shutdown = threading.Event()  # every reader disconnects
        self._calls: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()

    def at(self, offset: float) -> float:
        """The monotonic time ``offset`` seconds after the run's start."""
        return self.rec.t0 + offset

    @contextlib.contextmanager
    def call(self, what: str) -> Iterator[None]:
        """Watch a call that must return (see ``overdue``)."""
        key = next(self._ids)
        with self._lock:
            self._calls[key] = (what, time.monotonic())
        try:
            yield
        finally:
            with self._lock:
                _, started = self._calls.pop(key)
            took = time.monotonic() - started
            if took > HUNG_AFTER:
                self.rec.hung.append(f"{what} took {took:.0f} s")

    def overdue(self, bound: float = HUNG_AFTER) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return [f"{what} running for {now - t:.0f} s" for what, t in self._calls.values() if now - t > bound]


class Writer(threading.Thread):
    """Writes unique, self-describing payloads ("w3:1234") at a steady rate, reconnecting every session."""

    def __init__(self, ctx: Ctx, plan: WriterPlan) -> None:
        super().__init__(name=f"chaos-writer-{plan.wid}", daemon=True)
        self.ctx = ctx
        self.plan = plan
        self.seq = 0

    def _config(self) -> msgbus.MsgBusConfig:
        return msgbus.MsgBusConfig(
            bootstrap_servers=self.ctx.bootstrap,
            topic=self.plan.topic,
            direction=msgbus.BusWriter,
            blocking=msgbus.Blocking if self.plan.blocking else msgbus.NonBlocking,
            connect_retries=3,
            connect_timeout=10,
            # Long enough to ride out any planned fault: a write that fails is only "maybe".
            write_timeout=30,
            flush_timeout=30,
        )

    def _over(self) -> bool:
        return self.ctx.ending.is_set() or time.monotonic() >= self.ctx.at(self.plan.stop)

    def run(self) -> None:
        rec = self.ctx.rec
        while not self._over():
            try:
                with self.ctx.call(f"w{self.plan.wid} connect"):
                    bus = msgbus.connect(self._config())
            except msgbus.MsgBusError as exc:
                with rec.lock:
                    rec.connect_failures += 1
                rec.note(f"w{self.plan.wid} connect failed: {exc}")
                time.sleep(1)
                continue
            self._session(bus)

    def _session(self, bus: msgbus.MsgBusIO) -> None:
        rec, plan = self.ctx.rec, self.plan
        end = min(time.monotonic() + plan.session, self.ctx.at(plan.stop))
        interval = 1.0 / plan.rate
        queued: list[WriteRec] = []
        raised = 0
        next_t = time.monotonic()
        try:
            while time.monotonic() < end and not self.ctx.ending.is_set():
                text = f"w{plan.wid}:{self.seq}"
                self.seq += 1
                w = rec.write_started(text, plan.topic, plan.wid)
                try:
                    bus.message_write(text)
                except msgbus.MsgBusError as exc:
                    w.end, w.status = time.monotonic(), MAYBE
                    raised += 1
                    if raised <= 3:
                        rec.note(f"w{plan.wid} write {text} raised {type(exc).__name__}: {exc}")
                    if isinstance(exc, msgbus.BusClosedError):
                        break
                else:
                    if plan.blocking:
                        w.end, w.status = time.monotonic(), ACKED
                    else:
                        queued.append(w)
                next_t += interval
                delay = next_t - time.monotonic()
                if delay > 0.001:
                    time.sleep(delay)
                elif delay < -1.0:
                    next_t = time.monotonic()  # after a stall, no burst to catch up
        finally:
            ok = True
            try:
                with self.ctx.call(f"w{plan.wid} disconnect"):
                    bus.disconnect()
            except msgbus.MsgBusError as exc:
                ok = False
                rec.note(f"w{plan.wid} disconnect raised {type(exc).__name__}: {exc}")
            t = time.monotonic()
            # NonBlocking failures are only counted: if more failed than raised, any queued one may have.
            if bus.stats().failed > raised:
                ok = False
            for w in queued:
                w.end, w.status = t, (ACKED if ok else MAYBE)


class ReaderActor(threading.Thread):
    """One reader's life: connect (retrying), consume its way, leave at its planned time or at shutdown."""

    def __init__(self, ctx: Ctx, plan: ReaderPlan) -> None:
        super().__init__(name=f"chaos-reader-{plan.rid}", daemon=True)
        self.ctx = ctx
        self.plan = plan
        self.rec = ReaderRec(plan.rid, plan.topic, plan.group, plan.kind, plan.slow > 0, plan.offset_reset)
        ctx.rec.readers[plan.rid] = self.rec
        self.done = threading.Event()

    def config(self) -> msgbus.MsgBusConfig:
        nonblocking = self.plan.kind == "read-nonblocking"
        return msgbus.MsgBusConfig(
            bootstrap_servers=self.ctx.bootstrap,
            topic=self.plan.topic,
            direction=msgbus.BusReader,
            blocking=msgbus.NonBlocking if nonblocking else msgbus.Blocking,
            group_id=self.plan.group,
            group_protocol=self.ctx.group_protocol,
            offset_reset=self.plan.offset_reset,
            read_queue_size=self.plan.queue,
            connect_retries=3,
            connect_timeout=10,
        )

    def should_leave(self) -> bool:
        stop = self.plan.stop
        return self.ctx.shutdown.is_set() or (stop is not None and time.monotonic() >= self.ctx.at(stop))

    def pause(self) -> None:
        """The slow application's work on one message."""
        if self.plan.slow and not self.ctx.draining.is_set():
            time.sleep(self.plan.slow)

    def attempt_started(self) -> int:
        self.rec.attempts.append((time.monotonic(), None))
        return len(self.rec.attempts) - 1

    def attempt_ended(self, index: int, ok: bool, error: str = "") -> None:
        t = time.monotonic()
        self.rec.attempts[index] = (self.rec.attempts[index][0], t)
        if ok:
            self.rec.connected = t
        else:
            with self.ctx.rec.lock:
                self.ctx.rec.connect_failures += 1
            self.rec.errors.append(error)

    def run(self) -> None:
        bus = self._connect()
        if bus is None:
            return
        consumer: threading.Thread | None = None
        kind = self.plan.kind
        registered = False
        if kind == "callback":
            bus.register_cb(self._on_message)
            registered = True
            self.ctx.rec.callback(self.plan.rid, "registered")
        else:
            target = self._iterate if kind == "iter" else self._read
            consumer = threading.Thread(target=target, args=(bus,), name=f"chaos-consume-{self.plan.rid}", daemon=True)
            consumer.start()
        toggles = [self.ctx.at(t) for t in self.plan.toggles]
        while not self.should_leave():
            if kind == "callback":
                if self.ctx.draining.is_set():
                    # The drain wants every reader reading.
                    if not registered:
                        registered = self._toggle(bus, registered)
                elif toggles and time.monotonic() >= toggles[0]:
                    toggles.pop(0)
                    registered = self._toggle(bus, registered)
            time.sleep(0.05)
        self.rec.disc_start = time.monotonic()
        with self.ctx.call(f"r{self.plan.rid} disconnect"):
            bus.disconnect()
        self.rec.disc_end = time.monotonic()
        self.done.set()
        if consumer is not None:
            consumer.join(10)
            if consumer.is_alive():
                self.ctx.rec.hung.append(f"r{self.plan.rid} ({kind}): its read loop still runs 10 s after disconnect")

    def _toggle(self, bus: msgbus.MsgBusIO, registered: bool) -> bool:
        try:
            if registered:
                bus.unregister_cb()
                self.ctx.rec.callback(self.plan.rid, "unregistered")
                return False
            bus.register_cb(self._on_message)
            self.ctx.rec.callback(self.plan.rid, "registered")
            return True
        except msgbus.MsgBusError as exc:
            self.ctx.rec.note(f"r{self.plan.rid} callback toggle raised {type(exc).__name__}: {exc}")
            return registered

    def _connect(self) -> msgbus.MsgBusIO | None:
        while not self.should_leave():
            index = self.attempt_started()
            try:
                with self.ctx.call(f"r{self.plan.rid} connect"):
                    bus = msgbus.connect(self.config())
            except msgbus.MsgBusError as exc:
                self.attempt_ended(index, False, f"{type(exc).__name__}: {exc}")
                time.sleep(1)
                continue
            self.attempt_ended(index, True)
            return bus
        return None

    def _on_message(self, msg: str) -> None:
        self.ctx.rec.deliver(self.plan.rid, msg)
        self.pause()

    def _read(self, bus: msgbus.MsgBusIO) -> None:
        nonblocking = self.plan.kind == "read-nonblocking"
        while True:
            try:
                msg = bus.message_read() if nonblocking else bus.message_read(timeout=0.2)
            except msgbus.BusClosedError:
                return
            except msgbus.MsgBusError as exc:
                self.ctx.rec.note(f"r{self.plan.rid} message_read raised {type(exc).__name__}: {exc}")
                return
            if msg is None:
                if nonblocking:
                    time.sleep(0.005)
                continue
            self.ctx.rec.deliver(self.plan.rid, msg)
            self.pause()

    def _iterate(self, bus: msgbus.MsgBusIO) -> None:
        # The loop ends when the lifecycle thread disconnects the bus.
        for msg in bus:
            self.ctx.rec.deliver(self.plan.rid, msg)
            self.pause()
