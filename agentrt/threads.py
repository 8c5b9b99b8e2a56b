"""Bounded pools of daemon threads for sync tools and blocking model calls.

Like `ThreadPoolExecutor`, but its threads are daemons: a tool that never returns can neither
keep the process alive at exit nor stop the pool, which starts another thread (up to its bound)
while the stuck one stays busy. Threads are reused, so a call costs no thread start.

Results go back to the event loop in batches (`awaitable`): calls that finish while the loop is
busy wake it once, not once each, which is most of what a fan-out of quick sync tools costs.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class DaemonThreadPool(Executor):
    """A `concurrent.futures.Executor` of at most `max_workers` reused daemon threads.

    Work is handed on like a relay: a submit wakes a thread only when none is already on its way
    to the queue, and a thread that takes work while more waits wakes the next one before it
    runs its own. A burst of quick calls is then served by the few threads that are awake,
    while a burst of slow ones still starts together (each wake-up costs tens of microseconds).
    """

    def __init__(self, max_workers: int = 32, name: str = "agentrt-worker") -> None:
        self.max_workers = max_workers
        self.name = name
        self._work: collections.deque[tuple[Future[Any], Callable[..., Any], tuple, dict]] = collections.deque()
        self._changed = threading.Condition(threading.Lock())
        self._threads = 0
        self._sleeping = 0
        self._woken = False  # a thread has been woken (or started) for the queue and has not looked yet

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._changed:
            self._work.append((future, fn, args, kwargs))
            self._wake_one()
        return future

    def _wake_one(self) -> None:
        """Have a thread come for the queue's next item, unless one is already coming. Holds the lock."""
        if self._woken:
            return
        if self._sleeping:
            self._woken = True
            self._changed.notify()
        elif self._threads < self.max_workers:
            self._woken = True
            self._threads += 1
            threading.Thread(target=self._serve, name=f"{self.name}-{self._threads}", daemon=True).start()

    def _serve(self) -> None:
        self._take_and_run(woken=True)
        while True:
            self._take_and_run(woken=False)

    def _take_and_run(self, *, woken: bool) -> None:
        with self._changed:
            if woken:
                self._woken = False
            while not self._work:
                self._sleeping += 1
                self._changed.wait()
                self._sleeping -= 1
                self._woken = False  # subtle: only _wake_one notifies, so this thread was the one woken
            future, fn, args, kwargs = self._work.popleft()
            if self._work:
                self._wake_one()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)


TOOL_THREADS = DaemonThreadPool(32, "agentrt-tool")
"""Where every sync tool runs."""

MODEL_THREADS = DaemonThreadPool(64, "agentrt-model")
"""Where blocking model calls run, so that one abandoned at a run's time limit delays neither
the event loop nor `asyncio.run`'s shutdown (which joins the default executor's threads). Many
runs at once each wait here for the model, whose batching serves their calls together."""


async def off_loop(pool: DaemonThreadPool, fn: Callable[..., Any], /, *args: Any) -> Any:
    """`fn(*args)` on one of `pool`'s threads, awaited from the event loop, in a copy of the
    caller's context (as `asyncio.to_thread` does), so tools see which run and step call them."""
    work = pool.submit(contextvars.copy_context().run, fn, *args)
    awaited = awaitable(work)
    awaited.add_done_callback(lambda _: awaited.cancelled() and work.cancel())  # not started: never starts
    return await awaited


def awaitable(work: Future[Any]) -> asyncio.Future[Any]:
    """`work`, a future another thread completes, as a future of the running loop (like
    `asyncio.wrap_future`, but futures completing together wake the loop once, and cancelling
    the awaiting leaves `work` alone)."""
    loop = asyncio.get_running_loop()
    awaited: asyncio.Future[Any] = loop.create_future()
    work.add_done_callback(lambda done: _hand_back(loop, awaited, done))
    return awaited


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Future[Any]]]] = (
    weakref.WeakKeyDictionary())
_inbox_lock = threading.Lock()


def _hand_back(loop: asyncio.AbstractEventLoop, awaited: asyncio.Future[Any], done: Future[Any]) -> None:
    """Pass a finished call to the loop awaiting it. Calls finishing while the loop is busy go
    over together: only the first wakes it (each `call_soon_threadsafe` is a wake-up)."""
    with _inbox_lock:
        inbox = _inboxes.setdefault(loop, [])
        inbox.append((awaited, done))
        if len(inbox) > 1:
            return
    try:
        loop.call_soon_threadsafe(_deliver, loop)
    except RuntimeError:  # the loop has closed: no one is waiting any more
        pass


def _deliver(loop: asyncio.AbstractEventLoop) -> None:
    with _inbox_lock:
        inbox = _inboxes.pop(loop, [])
    for awaited, done in inbox:
        if awaited.done():  # cancelled meanwhile
            continue
        if done.cancelled():
            awaited.cancel()
            continue
        error = done.exception()
        if error is not None:
            awaited.set_exception(error)
        else:
            awaited.set_result(done.result())
