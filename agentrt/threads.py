"""Bounded pools of daemon threads for sync tools and blocking model calls.

Like `ThreadPoolExecutor`, but its threads are daemons: a tool that never returns can neither
keep the process alive at exit nor stop the pool, which starts another thread (up to its bound)
while the stuck one stays busy. Threads are reused, so a call costs no thread start.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class DaemonThreadPool(Executor):
    """A `concurrent.futures.Executor` of at most `max_workers` reused daemon threads."""

    def __init__(self, max_workers: int = 32, name: str = "agentrt-worker") -> None:
        self.max_workers = max_workers
        self.name = name
        self._work: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple, dict]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._work.put((future, fn, args, kwargs))
        with self._lock:
            # subtle: each queued item is matched to exactly one worker, idle or new, so a burst of
            # submits never waits behind a busy thread while the pool is below its bound
            if self._idle:
                self._idle -= 1
            elif self._threads < self.max_workers:
                self._threads += 1
                threading.Thread(target=self._serve, name=f"{self.name}-{self._threads}", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            future, fn, args, kwargs = self._work.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # handed to whoever awaits the future
                    future.set_exception(exc)
            with self._lock:
                self._idle += 1


TOOL_THREADS = DaemonThreadPool(32, "agentrt-tool")
"""Where every sync tool runs."""

MODEL_THREADS = DaemonThreadPool(64, "agentrt-model")
"""Where blocking model calls run, so that one abandoned at a run's time limit delays neither
the event loop nor `asyncio.run`'s shutdown (which joins the default executor's threads). Many
runs at once each wait here for the model, whose batching serves their calls together."""


async def off_loop(pool: DaemonThreadPool, fn: Callable[..., Any], /, *args: Any) -> Any:
    """`fn(*args)` on one of `pool`'s threads, awaited from the event loop, in a copy of the
    caller's context (as `asyncio.to_thread` does), so tools see which run and step call them."""
    return await asyncio.get_running_loop().run_in_executor(pool, contextvars.copy_context().run, fn, *args)
