"""Readers through ``msgbus.aio``, one kind per way to read (schedule.AIO_KINDS).

``aio-one``, ``aio-many`` and ``aio-waitfor``: ``await message_read(timeout)`` from one task,
from three tasks, and under ``asyncio.wait_for`` from two; ``aio-read-many`` and
``aio-read-record``: ``await message_read_many`` and ``await read_record``; ``aio-for``:
``async for``; ``aio-run-<policy>``: ``await reader.run(handler)`` with a failing handler.
"""

from __future__ import annotations

import asyncio
import time

import msgbus
from msgbus import aio

from .readers import ReaderActor, check_record
from .record import CONSUMER_TASKS
from .schedule import POLICY_OF

#: Kinds whose tasks end only when the bus is disconnected (the others' reads are bounded).
UNBOUNDED = frozenset({"aio-for"} | {kind for kind in POLICY_OF if kind.startswith("aio-")})


class AioReader(ReaderActor):
    """The lifecycle thread runs an event loop; the tasks deliver what they read."""

    def run(self) -> None:
        asyncio.run(self._main())

    def _wait_for_timeout(self) -> float:
        # Small enough that many reads are cancelled while messages flow; fixed by the plan's reader id.
        return 0.01 + 0.02 * (self.plan.rid % 5)

    async def _main(self) -> None:
        while True:
            bus = await self._aconnect()
            if bus is None:
                return
            self.handler = self.new_handler()
            if not self.session_over(await self._session_async(bus)):
                return

    async def _session_async(self, bus: aio.AsyncMsgBus) -> msgbus.BusStats:
        kind = self.plan.kind
        tasks = [asyncio.create_task(self._consume_async(bus)) for _ in range(CONSUMER_TASKS.get(kind, 1))]
        while not self.should_leave() and not self.stopped.is_set():
            await asyncio.sleep(0.05)
        self.done.set()
        pending: set[asyncio.Task[None]] = set()
        if kind not in UNBOUNDED:
            # Every read is bounded (0.3 s, or the wait_for timeout): the tasks end soon.
            _, pending = await asyncio.wait(tasks, timeout=10)
        self.rec.disc_start = time.monotonic()
        with self.ctx.call(f"r{self.rec.rid} disconnect"):
            await bus.disconnect()
        self.rec.disc_end = time.monotonic()
        if kind in UNBOUNDED:
            # These loops end when the bus is disconnected.
            _, pending = await asyncio.wait(tasks, timeout=10)
        if pending:
            self.ctx.rec.add_hung(f"r{self.rec.rid} ({kind}): {len(pending)} read task(s) still running")
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return bus.stats()

    async def _aconnect(self) -> aio.AsyncMsgBus | None:
        while not self.should_leave():
            index = self.attempt_started()
            try:
                with self.ctx.call(f"r{self.rec.rid} connect"):
                    bus = await aio.connect(self.config())
            except msgbus.MsgBusError as exc:
                self.attempt_ended(index, False, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(1)
                continue
            self.attempt_ended(index, True)
            return bus
        return None

    async def _apause(self, count: int = 1) -> None:
        if self.plan.slow and not self.ctx.draining.is_set():
            await asyncio.sleep(self.plan.slow * count)

    async def _consume_async(self, bus: aio.AsyncMsgBus) -> None:
        kind = self.plan.kind
        try:
            if kind == "aio-for":
                async for msg in bus:
                    self.ctx.rec.deliver(self.rec.rid, msg)
                    await self._apause()
            elif kind in POLICY_OF:
                await self._run_async(bus)
            else:
                await self._read_async(bus)
        except msgbus.BusClosedError:
            return
        except msgbus.MsgBusError as exc:
            self.ctx.rec.note(f"r{self.rec.rid} ({kind}) raised {type(exc).__name__}: {exc}")

    async def _read_async(self, bus: aio.AsyncMsgBus) -> None:
        kind = self.plan.kind
        while not self.done.is_set():
            msgs: list[str] = []
            try:
                if kind == "aio-waitfor":
                    msg = await asyncio.wait_for(bus.message_read(), self._wait_for_timeout())
                    msgs = [] if msg is None else [msg]
                elif kind == "aio-read-many":
                    msgs = await bus.message_read_many(self.plan.batch, timeout=0.3)
                    if len(msgs) > self.plan.batch:
                        self.ctx.rec.broke(self.rec.rid, f"message_read_many({self.plan.batch}) returned {len(msgs)}")
                elif kind == "aio-read-record":
                    record = await bus.read_record(timeout=0.3)
                    if record is not None:
                        check_record(self.ctx, self.rec.rid, record)
                        msgs = [record.text]
                else:
                    msg = await bus.message_read(timeout=0.3)
                    msgs = [] if msg is None else [msg]
            except asyncio.TimeoutError:
                continue
            self.ctx.rec.deliver_many(self.rec.rid, msgs)
            if msgs:
                await self._apause(len(msgs))

    async def _run_async(self, bus: aio.AsyncMsgBus) -> None:
        handler = self.handler
        assert handler is not None

        async def handle(msg: str) -> None:
            handler(msg)
            await self._apause()

        try:
            await bus.run(handle)
        except msgbus.HandlerError as exc:
            self.stopped_by(bus.sync, exc)
