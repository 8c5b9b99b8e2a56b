"""The queue that merges requests from concurrent callers into shared batches."""

import threading
import time

import pytest

from agentrt.llm import Generation, GenerationRequest
from agentrt.llm.batching import BatchQueue, Job
from agentrt.schema import Message


def request(text: str) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)])


class EchoModel:
    """Answers each request with its own prompt after `delay_s` per batch; records batch sizes."""

    def __init__(self, delay_s: float = 0.05, fail_on: str | None = None) -> None:
        self.delay_s, self.fail_on = delay_s, fail_on
        self.batches: list[list[str]] = []

    def run_batch(self, jobs: list[Job]) -> None:
        prompts = [job.request.messages[0].content for job in jobs]
        self.batches.append(prompts)
        time.sleep(self.delay_s)
        if self.fail_on in prompts:
            raise RuntimeError(f"model failed on {self.fail_on}")
        for job, prompt in zip(jobs, prompts):
            if job.on_text:
                job.on_text(prompt)
            job.result = Generation(text=prompt, prompt_tokens=1, completion_tokens=1, duration_s=self.delay_s)


def submit_from_threads(queue: BatchQueue, texts: list[str]) -> dict[str, object]:
    outcomes: dict[str, object] = {}

    def call(text: str) -> None:
        try:
            outcomes[text] = queue.submit([request(text)])[0].text
        except Exception as exc:
            outcomes[text] = exc

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
        time.sleep(0.005)
    for thread in threads:
        thread.join(timeout=10)
    return outcomes


def test_requests_that_wait_while_the_model_is_busy_run_together_as_the_next_batch():
    model = EchoModel()
    queue = BatchQueue(model.run_batch)
    outcomes = submit_from_threads(queue, ["a", "b", "c", "d"])
    assert outcomes == {t: t for t in "abcd"}
    assert model.batches == [["a"], ["b", "c", "d"]]


def test_batches_are_capped_and_results_keep_the_callers_order():
    model = EchoModel(delay_s=0.0)
    queue = BatchQueue(model.run_batch, max_batch=2)
    texts = [str(i) for i in range(5)]
    assert [g.text for g in queue.submit([request(t) for t in texts])] == texts
    assert model.batches == [["0", "1"], ["2", "3"], ["4"]]


def test_streamed_text_reaches_only_its_own_caller():
    queue = BatchQueue(EchoModel(delay_s=0.0).run_batch)
    seen: list[str] = []
    queue.submit([request("x"), request("y")], [seen.append])
    assert seen == ["x"]


def test_a_failed_batch_fails_every_caller_in_it_and_the_queue_goes_on():
    model = EchoModel(fail_on="c")
    queue = BatchQueue(model.run_batch)
    outcomes = submit_from_threads(queue, ["a", "b", "c"])
    assert outcomes["a"] == "a"
    assert all(isinstance(outcomes[t], RuntimeError) for t in "bc")
    assert queue.submit([request("e")])[0].text == "e"


def test_an_error_the_model_sets_on_one_row_is_raised_to_its_caller():
    def run_batch(jobs: list[Job]) -> None:
        for job in jobs:
            job.result = Generation(text="ok", prompt_tokens=1, completion_tokens=1, duration_s=0)
        jobs[1].error = ValueError("row 2 broke")

    with pytest.raises(ValueError, match="row 2 broke"):
        BatchQueue(run_batch).submit([request("a"), request("b")])


def test_closing_ends_the_thread_after_what_waits_and_a_later_request_starts_another():
    model = EchoModel()
    queue = BatchQueue(model.run_batch)
    assert [g.text for g in queue.submit([request("a")])] == ["a"]
    [runner] = [t for t in threading.enumerate() if t.name == "agentrt-batches" and t is queue._runner]
    queue.close()
    assert not runner.is_alive()  # it no longer holds the model
    assert [g.text for g in queue.submit([request("b")])] == ["b"]


class CountingDecoder:
    """A step-level `Decoder`: a job whose prompt is "name:n" takes n steps of `delay_s`; records
    which jobs each step served."""

    def __init__(self, delay_s: float = 0.02, fail_at_step: int | None = None) -> None:
        self.delay_s, self.fail_at_step = delay_s, fail_at_step
        self.running: list[list] = []  # [job, steps left]
        self.steps: list[list[str]] = []

    def admit(self, jobs: list[Job]) -> list[Job]:
        self.running += [[job, int(job.request.messages[0].content.split(":")[1])] for job in jobs]
        return []

    def step(self) -> list[Job]:
        self.steps.append([job.request.messages[0].content for job, _ in self.running])
        if len(self.steps) == self.fail_at_step:
            raise RuntimeError("step failed")
        time.sleep(self.delay_s)
        for row in self.running:
            row[1] -= 1
        finished = [job for job, left in self.running if left <= 0 or job.cancelled]
        for job in finished:
            job.result = Generation(text=job.request.messages[0].content, prompt_tokens=1, completion_tokens=1,
                                    duration_s=0)
        self.running = [row for row in self.running if row[0] not in finished]
        return finished

    def clear(self) -> None:
        self.running = []


def test_a_request_that_arrives_while_others_decode_joins_at_the_next_step_and_leaves_when_done():
    decoder = CountingDecoder()
    queue = BatchQueue(decoder)
    finished: list[str] = []

    def call(text: str) -> None:
        finished.append(queue.submit([request(text)])[0].text)

    long = threading.Thread(target=call, args=("long:30",))
    long.start()
    while not decoder.steps:
        time.sleep(0.001)
    call("short:3")  # returns while the long one still decodes
    assert finished == ["short:3"] and long.is_alive()
    long.join(timeout=10)
    assert finished == ["short:3", "long:30"]
    joined = decoder.steps.index(["long:30", "short:3"])
    assert 0 < joined < 5  # joined a running batch, within a step or two of arriving
    assert decoder.steps[joined : joined + 4] == [["long:30", "short:3"]] * 3 + [["long:30"]]  # then left at once
    assert queue.batch_sizes[2] == 3 and queue.batch_sizes[1] == 27


def test_the_batch_holds_at_most_max_batch_jobs_and_the_rest_join_as_rows_leave():
    decoder = CountingDecoder(delay_s=0.0)
    queue = BatchQueue(decoder, max_batch=2)
    texts = ["a:1", "b:3", "c:1", "d:1"]
    assert [g.text for g in queue.submit([request(t) for t in texts])] == texts
    assert decoder.steps == [["a:1", "b:3"], ["b:3", "c:1"], ["b:3", "d:1"]]


def test_a_cancelled_job_leaves_the_batch_and_its_batch_mate_goes_on():
    decoder = CountingDecoder()
    queue = BatchQueue(decoder)
    stay, leave = request("stay:10"), request("leave:1000")
    caller = threading.Thread(target=queue.submit, args=([stay, leave],))
    caller.start()
    while len(decoder.steps) < 2:
        time.sleep(0.001)
    queue.cancel([leave])
    caller.join(timeout=10)
    assert not caller.is_alive() and decoder.steps[-1] == ["stay:10"] and len(decoder.steps) == 10


def test_a_failed_step_fails_every_running_job_and_the_queue_goes_on():
    queue = BatchQueue(CountingDecoder(fail_at_step=2))
    with pytest.raises(RuntimeError, match="step failed"):
        queue.submit([request("a:5"), request("b:5")])
    assert queue.submit([request("c:2")])[0].text == "c:2"
