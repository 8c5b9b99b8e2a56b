"""agentrt.threads: work handed to daemon threads comes back to the event loop that awaits it,
results and exceptions alike, however many calls finish together."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from agentrt.threads import DaemonThreadPool, awaitable, off_loop


def test_many_calls_finishing_together_each_get_their_own_result():
    pool = DaemonThreadPool(8)
    start = threading.Barrier(8)

    def square(x: int) -> int:
        if x < 8:
            start.wait(timeout=10)  # the first eight finish at the same moment
        return x * x

    async def main() -> list[int]:
        return await asyncio.gather(*(off_loop(pool, square, x) for x in range(40)))

    assert asyncio.run(main()) == [x * x for x in range(40)]


def test_an_exception_raised_on_a_thread_is_raised_to_the_awaiting_task():
    def fail() -> None:
        raise KeyError("no such order")

    with pytest.raises(KeyError, match="no such order"):
        asyncio.run(off_loop(DaemonThreadPool(1), fail))


def test_a_cancelled_call_that_had_not_started_never_runs():
    pool, release, ran = DaemonThreadPool(1), threading.Event(), []

    async def main() -> None:
        busy = asyncio.ensure_future(off_loop(pool, release.wait, 10))
        queued = asyncio.ensure_future(off_loop(pool, ran.append, "queued"))
        await asyncio.sleep(0.05)
        queued.cancel()
        await asyncio.sleep(0.05)
        release.set()
        await busy

    asyncio.run(main())
    assert ran == []


def test_cancelling_the_wait_for_other_work_leaves_that_work_alone():
    work: Future[str] = Future()

    async def main() -> None:
        waiting = awaitable(work)
        waiting.cancel()
        await asyncio.sleep(0)

    asyncio.run(main())
    assert not work.cancelled()
    work.set_result("written")  # its owner can still finish it
