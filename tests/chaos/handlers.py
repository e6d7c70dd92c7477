"""The run kinds' handler: it fails on a seeded fraction of the payloads, and checks its policy's counters.

What each policy promises (README, "When your handler fails"), and where it is checked:

- ``Retry`` then success (the handler fails fewer times than the attempts): every message is
  still delivered (check.py's lost writes), nothing is dropped or dead-lettered, and every
  failed attempt was retried (``stats()``, here).
- ``Drop``: a message whose attempts ran out is counted dropped (``stats().dropped``, here) and
  only such a message may be missing (check.py counts it delivered).
- ``DeadLetter``: such a message is on the dead-letter topic with headers naming where it came
  from, and counts as delivered (check.py); ``stats().dead_lettered`` counts each one
  acknowledged (here: all of them, but the one a disconnect may have interrupted).
- ``Stop``: the reader stops with ``HandlerError`` naming the message (its place is checked in
  check.py), its cause the handler's exception, and ``status()`` is ``StatusClosed`` (here);
  the message was not committed, so the next reader of the group delivers it (check.py).
"""

from __future__ import annotations

import zlib

import msgbus

from .record import Recorder
from .schedule import POLICY_OF, ReaderPlan


class ChaosFailure(Exception):
    """The handler's planned failure on a payload."""


def policy_of(plan: ReaderPlan) -> msgbus.Retry | msgbus.Drop | msgbus.DeadLetter | msgbus.Stop:
    """The plan's ``on_handler_error``: the bare outcome for one attempt, else a quick ``Retry`` ending in it."""
    name = POLICY_OF.get(plan.kind, "drop")
    outcome: msgbus.Drop | msgbus.DeadLetter | msgbus.Stop
    if name == "deadletter":
        outcome = msgbus.DeadLetter(plan.dead_letter_topic())
    elif name == "stop":
        outcome = msgbus.Stop()
    else:
        outcome = msgbus.Drop()
    if plan.attempts == 1:
        return outcome
    return msgbus.Retry(attempts=plan.attempts, backoff=0.005, max_backoff=0.02, then=outcome)


def fails(plan: ReaderPlan, text: str) -> bool:
    """Whether the plan's handler fails on ``text`` (a hash of the payload, so the same in every replay)."""
    return zlib.crc32(f"{plan.salt}:{text}".encode()) % 1_000_000 < plan.fail_rate * 1_000_000


class FailingHandler:
    """One reader session's handler; ``run`` calls it in order, from one thread or one task at a time.

    Invariant: ``counts[text]`` is how many times it failed on ``text`` in this session, the same
    count the reader keeps per message (msgbus keeps a message's failed attempts for the session).
    """

    def __init__(self, rec: Recorder, plan: ReaderPlan, rid: int, spared: frozenset[str]) -> None:
        self.rec = rec
        self.plan = plan
        self.rid = rid
        self.policy = POLICY_OF[plan.kind]
        #: Payloads it no longer fails on: each stopped a reader before (the bug was "fixed").
        self.spared = spared
        self.counts: dict[str, int] = {}
        self.failures = 0
        self.gave_up = 0
        self.last_failed = ""

    def __call__(self, msg: str) -> None:
        n = self.counts.get(msg, 0)
        if n < self.plan.fail_times and msg not in self.spared and fails(self.plan, msg):
            self.counts[msg] = n + 1
            self.failures += 1
            last = n + 1 >= self.plan.attempts
            self.gave_up += last
            self.last_failed = msg
            self.rec.failed(self.rid, msg, last and self.policy in ("drop", "deadletter"))
            raise ChaosFailure(f"planned failure {n + 1} on {msg}")
        self.rec.deliver(self.rid, msg)

    def check_stop(self, bus: msgbus.MsgBusIO, exc: msgbus.HandlerError) -> list[str]:
        """What a ``HandlerError`` must be (its place is checked against the topic in check.py)."""
        wrong = []
        if self.policy != "stop":
            wrong.append(f"HandlerError under the {self.policy} policy: {exc}")
        if bus.status() is not msgbus.StatusClosed:
            wrong.append("status() is not StatusClosed after HandlerError")
        if not isinstance(exc.__cause__, ChaosFailure):
            wrong.append(f"HandlerError's __cause__ is {exc.__cause__!r}, not the handler's exception")
        if exc.attempts != self.plan.attempts or exc.topic != self.plan.topic:
            wrong.append(
                f"HandlerError says {exc.attempts} attempt(s) on {exc.topic}, the policy "
                f"{self.plan.attempts} on {self.plan.topic}"
            )
        return wrong

    def check_counts(self, stats: msgbus.BusStats, stopped: bool) -> list[str]:
        """The session's ``stats()`` after disconnect against the failures this handler raised."""
        want_retried = self.failures - self.gave_up
        if self.policy == "retry":
            want = {"retried": (want_retried, want_retried), "dropped": (0, 0), "dead_lettered": (0, 0)}
        elif self.policy == "drop":
            want = {"retried": (want_retried, want_retried), "dropped": (self.gave_up, self.gave_up)}
        elif self.policy == "deadletter":
            # A disconnect may interrupt the one dead-letter write in progress (it is then not committed).
            want = {"retried": (want_retried, want_retried), "dead_lettered": (max(0, self.gave_up - 1), self.gave_up)}
        else:
            want = {"retried": (want_retried, want_retried), "dropped": (0, 0), "dead_lettered": (0, 0)}
            if self.gave_up and not stopped:
                want["stopped"] = (1, 1)
        got = {"retried": stats.retried, "dropped": stats.dropped, "dead_lettered": stats.dead_lettered}
        got["stopped"] = int(stopped)
        return [
            f"stats().{name} is {got[name]}, expected {lo}" + (f"-{hi}" if hi != lo else "") + f" ({self.policy})"
            for name, (lo, hi) in want.items()
            if not lo <= got[name] <= hi
        ]
