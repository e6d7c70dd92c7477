"""What every actor shares (Ctx), and the writers, each on a thread of its own, using only msgbus's public API."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Iterator

import msgbus

from .record import ACKED, MAYBE, Recorder, WriteRec
from .schedule import WriterPlan

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
                self.rec.add_hung(f"{what} took {took:.0f} s")

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
