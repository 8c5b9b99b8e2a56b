"""Merging requests that arrive from many threads into shared batches.

Concurrent runs (`Agent.run_many`, or several agents on one model) each call `generate` on their
own thread. A local model runs one batch at a time, so instead of queueing behind a lock one by
one, waiting requests join the batch the model is decoding: one forward pass serves them all,
which is where a batch's throughput comes from. With a `Decoder` that decodes a token at a time
(continuous batching), a request joins at the running batch's next step and a finished one
leaves at once; a plain batch function runs each batch whole, and what arrives meanwhile waits
for it to end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

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


class Decoder(Protocol):
    """What decodes the queue's running jobs. The queue calls it from its own thread only."""

    def admit(self, jobs: list[Job]) -> list[Job]:
        """Start decoding `jobs` beside those running; returns those of them that are finished
        already (with their `error` set, say)."""

    def step(self) -> list[Job]:
        """Decode the running jobs a step further; returns those that finished, each with its
        `result` or `error` set."""

    def clear(self) -> None:
        """Forget every running job (after `admit` or `step` raised)."""


class WholeBatches:
    """A `Decoder` whose step runs the jobs admitted as one batch, to the end of each, with
    `run_batch` (which sets each job's `result` or `error`)."""

    def __init__(self, run_batch: Callable[[list[Job]], None]) -> None:
        self.run_batch = run_batch
        self.jobs: list[Job] = []

    def admit(self, jobs: list[Job]) -> list[Job]:
        self.jobs = [*self.jobs, *jobs]
        return []

    def step(self) -> list[Job]:
        jobs, self.jobs = self.jobs, []
        self.run_batch(jobs)
        return jobs

    def clear(self) -> None:
        self.jobs = []


class BatchQueue:
    """Runs submitted requests with `decoder`, up to `max_batch` of them at a time; a plain
    function decodes whole batches (`WholeBatches`).

    If the decoder raises, every job it was running gets the exception, and the queue goes on.
    `batch_sizes` counts the decoder's steps by how many jobs each served.

    The decoder runs on one thread of the queue's own, started with the first request: the model's
    tensors are then all allocated by one thread. (Run by whichever caller found the model idle,
    as this once was, 64 concurrent runs spread them over the allocator's per-thread arenas, and
    resident memory grew by gigabytes with every wave of runs; see benchmarks/concurrency.py.)
    """

    def __init__(self, decoder: Decoder | Callable[[list[Job]], None], max_batch: int = 16) -> None:
        self.decoder: Decoder = WholeBatches(decoder) if callable(decoder) else decoder
        self.max_batch = max_batch
        self._queue: list[Job] = []
        self._running: list[Job] = []
        self._changed = threading.Condition()
        self._runner: threading.Thread | None = None
        self._closing = False
        self.batch_sizes: Counter[int] = Counter()

    def submit(self, requests: Sequence[GenerationRequest], on_text: Sequence[OnText] = ()) -> list[Generation]:
        """Generations for `requests`, in order, once each has been decoded."""
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
        cancelled; every job when None. The decoder ends a cancelled job at its next token and
        leaves the others running."""
        with self._changed:
            for job in [*self._queue, *self._running]:
                job.cancelled = job.cancelled or cancels(requests, job.request)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no job waits or runs; False if `timeout_s` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._running, timeout_s)

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
                while not self._queue and not self._running and not self._closing:
                    self._changed.wait()
                if not self._queue and not self._running:  # closing, and nothing left to run
                    self._runner = None
                    return
                room = self.max_batch - len(self._running)
                admitted, self._queue = self._queue[:room], self._queue[room:]
                self._running = [*self._running, *admitted]
            self._advance(admitted)

    def _advance(self, admitted: list[Job]) -> None:
        """Admit `admitted` beside the running jobs, decode one step, and let the finished go."""
        try:
            finished = self.decoder.admit(admitted) if admitted else []
            if len(finished) < len(self._running):
                self.batch_sizes[len(self._running) - len(finished)] += 1
                finished += self.decoder.step()
        except BaseException as exc:  # every caller the decoder was serving gets the failure, not just one
            self.decoder.clear()
            finished = self._running
            for job in finished:
                job.error = exc
        with self._changed:
            for job in finished:
                job.done = True
            self._running = [job for job in self._running if not job.done]
            self._changed.notify_all()
