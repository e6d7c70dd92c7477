"""Synchronous readers, one kind per way to read (schedule.SYNC_KINDS), each on threads of its own.

A reader's life: connect (retrying), consume its way, leave at its planned time or at shutdown.
A reader whose Stop policy stopped it is replaced by a new reader of the same group (a new id,
``ReaderRec.replaces``), which takes over from the group's commit.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import msgbus

from .actors import Ctx
from .handlers import FailingHandler, policy_of
from .record import ReaderRec, Stopped
from .schedule import MAX_STOPS, POLICY_OF, ReaderPlan

#: Kinds on a NonBlocking bus (the others are Blocking).
NONBLOCKING_KINDS = frozenset({"read-nonblocking", "available-nonblocking"})
WRONG = "wrong record"
#: A replacement reader's id: the plan's id plus this for each stop before it.
REPLACEMENT_STEP = 1000


def debug_settings(rid: int) -> dict[str, str]:
    """librdkafka's debug log for ``python -m tests.chaos --rdkafka-debug``, each line naming its reader."""
    contexts = os.environ.get("CHAOS_RDKAFKA_DEBUG", "")
    return {"debug": contexts, "client.id": f"r{rid}"} if contexts else {}


def check_record(ctx: Ctx, rid: int, record: msgbus.Record) -> None:
    """A Record's place is recorded (check.py compares it with the topic); its form is checked here."""
    p, o, ts = record.partition, record.offset, record.timestamp
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (p, o, ts)) or p < 0 or o < 0:
        ctx.rec.broke(rid, f"read_record gave {record.text} partition={p!r} offset={o!r} timestamp={ts!r}", WRONG)
        return
    if record.headers != ():
        # The writers write no headers, and a Record's are "as written".
        ctx.rec.broke(rid, f"read_record gave {record.text} headers {record.headers!r}; none were written", WRONG)
    ctx.rec.record(rid, record.text, p, o)


class ReaderActor(threading.Thread):
    """The lifecycle thread of one planned reader (and of its replacements after a Stop)."""

    def __init__(self, ctx: Ctx, plan: ReaderPlan) -> None:
        super().__init__(name=f"chaos-reader-{plan.rid}", daemon=True)
        self.ctx = ctx
        self.plan = plan
        self.rec = ReaderRec(plan.rid, plan.topic, plan.group, plan.kind, plan.slow > 0, plan.offset_reset)
        self.rec.policy_attempts = plan.attempts
        ctx.rec.readers[plan.rid] = self.rec
        self.done = threading.Event()  # the current session is over: its loops end
        self.stopped = threading.Event()  # its Stop policy stopped the current session
        self.stop_count = 0
        #: Payloads that stopped a reader before: its replacements no longer fail on them.
        self.spared: frozenset[str] = frozenset()
        self.handler: FailingHandler | None = None

    def config(self) -> msgbus.MsgBusConfig:
        return msgbus.MsgBusConfig(
            bootstrap_servers=self.ctx.bootstrap,
            topic=self.plan.topic,
            direction=msgbus.BusReader,
            blocking=msgbus.NonBlocking if self.plan.kind in NONBLOCKING_KINDS else msgbus.Blocking,
            group_id=self.plan.group,
            group_protocol=self.ctx.group_protocol,
            offset_reset=self.plan.offset_reset,
            read_queue_size=self.plan.queue,
            connect_retries=3,
            connect_timeout=10,
            on_handler_error=policy_of(self.plan) if self.plan.kind in POLICY_OF else msgbus.Drop(),
            kafka_settings=debug_settings(self.rec.rid),
        )

    def should_leave(self) -> bool:
        stop = self.plan.stop
        return self.ctx.shutdown.is_set() or (stop is not None and time.monotonic() >= self.ctx.at(stop))

    def pause(self) -> None:
        """The slow application's work on one message."""
        if self.plan.slow and not self.ctx.draining.is_set():
            time.sleep(self.plan.slow)

    def deliver(self, msg: str) -> None:
        self.ctx.rec.deliver(self.rec.rid, msg)
        self.pause()

    # -- sessions ---------------------------------------------------------------------

    def new_handler(self) -> FailingHandler | None:
        if self.plan.kind not in POLICY_OF:
            return None
        plan = self.plan
        if self.stop_count >= MAX_STOPS:
            plan = dataclasses.replace(plan, fail_rate=0.0)
        return FailingHandler(self.ctx.rec, plan, self.rec.rid, self.spared)

    def stopped_by(self, bus: msgbus.MsgBusIO, exc: msgbus.HandlerError) -> None:
        """The consumer's ``run`` raised ``HandlerError``: check it, and have the session end."""
        handler = self.handler
        assert handler is not None
        for what in handler.check_stop(bus, exc):
            self.ctx.rec.broke(self.rec.rid, what)
        stop = Stopped(self.rec.rid, handler.last_failed, exc.topic, exc.partition, exc.offset, time.monotonic())
        with self.ctx.rec.lock:
            self.ctx.rec.stops.append(stop)
        self.stopped.set()

    def session_over(self, stats: msgbus.BusStats) -> bool:
        """After disconnect: check the counters; True when a replacement must take over."""
        if self.handler is not None:
            for what in self.handler.check_counts(stats, self.stopped.is_set()):
                self.ctx.rec.broke(self.rec.rid, what)
        if not self.stopped.is_set() or self.should_leave():
            return False
        assert self.handler is not None
        self.stop_count += 1
        self.spared = self.spared | {self.handler.last_failed}
        rid = self.plan.rid + REPLACEMENT_STEP * self.stop_count
        old = self.rec
        self.rec = dataclasses.replace(old, rid=rid, attempts=[], connected=None, disc_start=None, disc_end=None)
        self.rec.errors, self.rec.replaces = [], old.rid
        self.ctx.rec.readers[rid] = self.rec
        self.stopped.clear()
        self.done.clear()
        return True

    def run(self) -> None:
        while True:
            bus = self._connect()
            if bus is None:
                return
            self.handler = self.new_handler()
            if not self.session_over(self._session(bus)):
                return

    def _session(self, bus: msgbus.MsgBusIO) -> msgbus.BusStats:
        consumer: threading.Thread | None = None
        kind = self.plan.kind
        registered = False
        if kind == "callback":
            bus.register_cb(self.deliver)
            registered = True
            self.ctx.rec.callback(self.rec.rid, "registered")
        else:
            consumer = threading.Thread(
                target=self._consume, args=(bus,), name=f"chaos-consume-{self.rec.rid}", daemon=True
            )
            consumer.start()
        toggles = [self.ctx.at(t) for t in self.plan.toggles]
        while not self.should_leave() and not self.stopped.is_set():
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
        with self.ctx.call(f"r{self.rec.rid} disconnect"):
            bus.disconnect()
        self.rec.disc_end = time.monotonic()
        self.done.set()
        if consumer is not None:
            consumer.join(10)
            if consumer.is_alive():
                self.ctx.rec.add_hung(f"r{self.rec.rid} ({kind}): its read loop still runs 10 s after disconnect")
        return bus.stats()

    def _toggle(self, bus: msgbus.MsgBusIO, registered: bool) -> bool:
        try:
            if registered:
                bus.unregister_cb()
                self.ctx.rec.callback(self.rec.rid, "unregistered")
                return False
            bus.register_cb(self.deliver)
            self.ctx.rec.callback(self.rec.rid, "registered")
            return True
        except msgbus.MsgBusError as exc:
            self.ctx.rec.note(f"r{self.rec.rid} callback toggle raised {type(exc).__name__}: {exc}")
            return registered

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

    def _connect(self) -> msgbus.MsgBusIO | None:
        while not self.should_leave():
            index = self.attempt_started()
            try:
                with self.ctx.call(f"r{self.rec.rid} connect"):
                    bus = msgbus.connect(self.config())
            except msgbus.MsgBusError as exc:
                self.attempt_ended(index, False, f"{type(exc).__name__}: {exc}")
                time.sleep(1)
                continue
            self.attempt_ended(index, True)
            return bus
        return None

    # -- the ways to read (on the consumer thread; each ends when the bus is disconnected) ----

    def _consume(self, bus: msgbus.MsgBusIO) -> None:
        kind = self.plan.kind
        try:
            if kind.startswith("available-"):
                self._available(bus)
            elif kind == "read-many":
                self._read_many(bus)
            elif kind == "read-record":
                self._read_record(bus)
            elif kind == "iter":
                for msg in bus:
                    self.deliver(msg)
            elif kind in POLICY_OF:
                self._run(bus)
            else:
                self._read(bus)
        except msgbus.BusClosedError:
            return
        except msgbus.MsgBusError as exc:
            self.ctx.rec.note(f"r{self.rec.rid} ({kind}) raised {type(exc).__name__}: {exc}")

    def _read(self, bus: msgbus.MsgBusIO) -> None:
        kind = self.plan.kind
        while True:
            if kind == "read-nonblocking":
                msg = bus.message_read()
            elif kind == "read-forever":
                msg = bus.message_read()
                if msg is None:
                    self.ctx.rec.broke(self.rec.rid, "a Blocking message_read() without a timeout returned None")
            else:
                msg = bus.message_read(timeout=0.2)
            if msg is not None:
                self.deliver(msg)
            elif kind == "read-nonblocking":
                time.sleep(0.005)

    def _available(self, bus: msgbus.MsgBusIO) -> None:
        # The Go services' idiom: if MessageAvailable() > 0 { MessageRead() }.
        while True:
            if bus.message_available() > 0:
                msg = bus.message_read()
                if msg is not None:
                    self.deliver(msg)
                elif self.plan.kind == "available-blocking":
                    self.ctx.rec.broke(self.rec.rid, "a Blocking message_read() without a timeout returned None")
            else:
                time.sleep(0.005)

    def _read_many(self, bus: msgbus.MsgBusIO) -> None:
        while True:
            msgs = bus.message_read_many(self.plan.batch, timeout=0.2)
            if len(msgs) > self.plan.batch:
                self.ctx.rec.broke(self.rec.rid, f"message_read_many({self.plan.batch}) returned {len(msgs)}")
            self.ctx.rec.deliver_many(self.rec.rid, msgs)
            for _ in msgs:
                self.pause()

    def _read_record(self, bus: msgbus.MsgBusIO) -> None:
        while True:
            record = bus.read_record(timeout=0.2)
            if record is not None:
                check_record(self.ctx, self.rec.rid, record)
                self.deliver(record.text)

    def _run(self, bus: msgbus.MsgBusIO) -> None:
        handler = self.handler
        assert handler is not None

        def handle(msg: str) -> None:
            handler(msg)
            self.pause()

        try:
            bus.run(handle)
        except msgbus.HandlerError as exc:
            self.stopped_by(bus, exc)
