"""The callback thread of a reader: register_cb, unregister_cb, and the calls of the callback, in order.

One thread per inbox (``msgbus-callback-<topic>``), started at the first
register and kept across re-registrations, calls the callback with the front
message while that message stays queued (``Store.in_hand``): nobody else takes
it meanwhile, and ``forget`` leaves it. Once the call ended the message is
taken finished (handled, dropped or dead-lettered) or left at the front (the
policy stopped the reader, or it was unregistered or closed during a back-off)
in the same lock round that puts the next message in hand: one lock round per
message, and nothing the callback did not get ever leaves the queue. With an
``Observer`` (timings or tracing on), each call is observed, and the thread
takes the message as an Item (its place and headers) rather than its text.
"""

from __future__ import annotations

import threading
import time

from .. import _log
from .._config import CBFunc
from .._errors import BusClosedError, CallbackError
from .failures import Failures, Next
from .item import Batch, Item
from .observer import Observer
from .store import Store, notify_waiters
from .waiters import wake

# How long disconnect() waits for a callback that is still running.
_CALLBACK_JOIN_TIMEOUT = 5.0


class Dispatcher:
    def __init__(self, store: Store, failures: Failures, observer: Observer | None = None) -> None:
        self._store = store
        self._failures = failures
        self._observer = observer
        #: The callback thread, once started.
        self.thread: threading.Thread | None = None
        # Serializes register (the thread is started once) with join.
        self._lock = threading.Lock()
        # The callback thread's lock calls, bound once (see Reads.__init__).
        self._acquire = store.lock.acquire
        self._release = store.lock.release
        self._items = False

    def register(self, callback: CBFunc) -> None:
        if not callable(callback):
            raise CallbackError(f"the callback must be callable, not {type(callback).__name__}")
        store = self._store
        with self._lock:
            with store.lock:
                if store.closed:
                    raise BusClosedError("the bus is disconnected")
                if store.callback is not None:
                    raise CallbackError("a callback is already registered; call unregister_cb first")
                store.callback = callback
                store.regate()
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name=f"msgbus-callback-{store.name}", daemon=True)
                self.thread.start()
        notify_waiters(store)

    def unregister(self) -> None:
        store = self._store
        with store.lock:
            if store.closed:
                raise BusClosedError("the bus is disconnected")
            store.callback = None
            store.regate()
        notify_waiters(store)

    def join(self) -> None:
        """After the inbox closed: wait (a while) for a callback that is still running, and say if it is."""
        with self._lock:
            thread = self.thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(_CALLBACK_JOIN_TIMEOUT)
        if thread.is_alive():
            _log.logger().warning(
                "the callback on %s is still running %.0f s after disconnect; not waiting for it "
                "(its message is not committed)",
                self._store.name,
                _CALLBACK_JOIN_TIMEOUT,
            )

    # -- the callback thread ---------------------------------------------------

    def _next(self, finished: bool) -> tuple[CBFunc, Item | str] | None:
        """End the call on the message in hand (``finished``: take it), then wait for the next one.

        The callback and the message to call it with (an Item under a failure
        policy or an observer, else the text); None once closed. One lock round in the usual
        case: the call ended well and the next message is in the same batch.
        """
        store = self._store
        waiters = None
        self._acquire()
        try:
            if store.in_hand:
                batch = store.batches[0]
                if finished:
                    batch.start += 1
                if finished and store.callback is not None and store.stopped is None and not store.closed:
                    index = batch.start
                    if index < len(batch.raw):
                        # Still in hand: the next message of the same batch.
                        store.queued -= 1
                        store.handed += 1
                        if store.room_wanted:
                            store.took(0)
                        return store.callback, self._message(batch, index)
                store.in_hand = False
                if not finished:
                    store.queued += 1
                if store.callback is None:
                    # Unregistered during the call: reads may go on now.
                    store.regate()
                    waiters = store.take_waiters()
            if waiters is None:
                return self._wait_next()
        finally:
            self._release()
        # Wake the asyncio readers first: waiting for the next callback may take for ever.
        wake(waiters)
        with store.lock:
            return self._wait_next()

    def _message(self, batch: Batch, index: int) -> Item | str:
        if self._items:
            return batch.items()[index]
        return (batch.texts or batch.load_texts())[index]

    def _wait_next(self) -> tuple[CBFunc, Item | str] | None:
        """Wait (lock held) for a callback and a message, and put the message in hand."""
        store = self._store
        while True:
            if store.closed:
                return None
            callback = store.callback
            if callback is not None and store.stopped is None:
                batch = store.front()
                if batch is not None:
                    store.in_hand = True
                    store.reads_open = False  # as regate() would say: a callback is registered
                    store.handed += 1
                    store.took(1)
                    return callback, self._message(batch, batch.start)
            store.changed.wait()

    def _in_hand(self) -> Item:
        store = self._store
        with store.lock:
            batch = store.batches[0]
            return batch.items()[batch.start]

    def _run(self) -> None:
        # The policy and the observer are set before the first register (ReaderBase.__init__):
        # fixed from here on. Either needs each message's Item, not only its text.
        self._items = self._failures.active or self._observer is not None
        if not self._items:
            self._run_plain()
            return
        finished = False
        while (got := self._next(finished)) is not None:
            callback, item = got
            assert isinstance(item, Item)
            if self._failures.active:
                finished = self._call(callback, item)
                continue
            # Observed (timings or tracing on), under the default policy.
            try:
                self._invoke(callback, item)
            except BaseException:
                # BaseException too: a SystemExit would otherwise end this thread silently.
                self._dropped()
            finished = True

    def _run_plain(self) -> None:
        """Neither a failure policy nor an observer: a callback that raises is logged, its message finished."""
        next_message = self._next
        got = next_message(False)
        while got is not None:
            callback, text = got
            try:
                callback(text)  # type: ignore[arg-type]
            except BaseException:
                self._dropped()
            got = next_message(True)

    def _dropped(self) -> None:
        """The callback raised on the message in hand, under the default policy: logged and counted, going on."""
        item = self._in_hand()
        _log.logger().exception(
            "the callback raised on %s (partition %d, offset %d); going on",
            self._store.name,
            item.partition,
            item.offset,
        )
        self._failures.count_dropped()

    def _invoke(self, callback: CBFunc, item: Item) -> None:
        """``callback(item.text)``, observed when an observer is set."""
        observer = self._observer
        if observer is None:
            callback(item.text)
        else:
            observer.call(callback, item)

    def _call(self, callback: CBFunc, item: Item) -> bool:
        """The callback on ``item`` under a failure policy; True once it is finished."""
        failures, observer = self._failures, self._observer
        try:
            if observer is None:
                callback(item.text)
            else:
                observer.call(callback, item)
        except BaseException as exc:
            return self._failed(callback, item, exc)
        failures.succeeded(item)
        return True

    def _failed(self, callback: CBFunc, item: Item, exc: BaseException) -> bool:
        """The callback raised on ``item``: retry it, then the outcome; True once it is finished."""
        failures = self._failures
        while True:
            step, delay = failures.failed(item, exc)
            if step is Next.RETRY:
                failures.log_retry("the callback", item, exc, delay)
                if not self._pause(callback, delay):
                    return False
                try:
                    self._invoke(callback, item)
                except BaseException as again:
                    exc = again
                    continue
                failures.succeeded(item)
                return True
            if step is Next.DROP:
                failures.drop(item, exc)
                return True
            if step is Next.DEAD_LETTER:
                return failures.dead_letter(item, lambda seconds: self._pause(callback, seconds))
            stopped = failures.stop(item, exc)
            store = self._store
            with store.lock:
                store.stopped = stopped
                store.regate()
            return False

    def _pause(self, callback: CBFunc, seconds: float) -> bool:
        """The back-off: False, early, once the reader closed or ``callback`` was unregistered."""
        store = self._store
        deadline = time.monotonic() + seconds
        with store.lock:
            while not store.closed and store.callback is callback:
                left = deadline - time.monotonic()
                if left <= 0:
                    return True
                store.changed.wait(left)
        return False
