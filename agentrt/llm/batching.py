"""Merging requests that arrive from many threads into shared batches.

Concurrent runs (`Agent.run_many`, or several agents on one model) each call `generate` on their
own thread. A local model can run only one batch at a time, so instead of queueing behind the
lock one by one, waiting requests are gathered and run together as the next batch: one forward
pass serves them all, which is where a batch's throughput comes from.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from . import Generation, GenerationRequest, cancels

OnText = Callable[[str], None] | None


@dataclass(eq=False)
class Job:
    """One request waiting in the queue, with where its streamed text and its result go."""

    request: GenerationRequest
    on_text: OnText = None
    result: Generation | None = None
    error: BaseException | None = None
    done: bool = False
    cancelled: bool = False


class BatchQueue:
    """Runs submitted requests in batches of up to `max_batch`, one batch at a time.

    `run_batch` sets each job's `result` (or its own `error`); if it raises, every job in that
    batch gets the exception.

    Batches run on one thread of the queue's own, started with the first request: the model's
    tensors are then all allocated by one thread. (Run by whichever caller found the model idle,
    as this once was, 64 concurrent runs spread them over the allocator's per-thread arenas, and
    resident memory grew by gigabytes with every wave of runs; see benchmarks/concurrency.py.)
    """

    def __init__(self, run_batch: Callable[[list[Job]], None], max_batch: int = 16) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._changed = threading.Condition()
        self._runner: threading.Thread | None = None
        self._closing = False
        self.batch_sizes: Counter[int] = Counter()

    def submit(self, requests: Sequence[GenerationRequest], on_text: Sequence[OnText] = ()) -> list[Generation]:
        """Generations for `requests`, in order, once the batches holding them have run."""
        callbacks = [*on_text] + [None] * (len(requests) - len(on_text))
        jobs = [Job(r, cb) for r, cb in zip(requests, callbacks, strict=True)]
        with self._changed:
            self._closing = False
            if self._runner is None:
                self._runner = threading.Thread(target=self._serve, name="agentrt-batches", daemon=True)
                self._runner.start()
            self._queue.extend(jobs)
            self._changed.notify_all()
            while not all(j.done for j in jobs):
                self._changed.wait()
        for job in jobs:
            if job.error is not None:
                raise job.error
        return [job.result for job in jobs]  # type: ignore[misc]

    def cancel(self, requests: Collection[GenerationRequest] | None = None) -> None:
        """Mark the jobs of `requests` (the very objects submitted), waiting or running, as
        cancelled; every job when None. `run_batch` ends a cancelled job's row at its next token
        and leaves its batch-mates running."""
        with self._changed:
            for job in [*self._queue, *self._running]:
                job.cancelled = job.cancelled or cancels(requests, job.request)

    def close(self) -> None:
        """End the queue's thread once what waits has run, so that it no longer holds the model;
        a later `submit` starts another."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        runner = self._runner
        if runner is not None and runner is not threading.current_thread():
            runner.join()

    def _serve(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue:  # closing, and nothing left to run
                    self._runner = None
                    return
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                self._running = batch
            self._run(batch)

    def _run(self, batch: list[Job]) -> None:
        self.batch_sizes[len(batch)] += 1
        try:
            self._run_batch(batch)
        except BaseException as exc:  # every caller in the batch gets the failure, not just this one
            for job in batch:
                job.error = exc
        finally:
            with self._changed:
                for job in batch:
                    job.done = True
                self._running = []
                self._changed.notify_all()
