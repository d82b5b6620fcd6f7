"""Batching concurrent requests into the engine: a bounded queue, and ONE worker thread that takes every request
waiting (up to ``max_batch``, after a short window) and scores them together in one ``sample_judgments`` call, so
vLLM batches all their prompts continuously.

The asyncio side (``app``) only puts jobs into the queue and awaits their futures; a full queue raises
``QueueFull`` at once (503). A job whose future was cancelled (timeout, client gone) before the worker took it is
dropped; one cancelled while its batch runs is scored with the others and its result discarded. An engine error
fails the jobs of that batch only; the worker keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from spct.judging import Query, aggregate, meta_rm_scores, sample_judgments
from spct.sampling import Sampler
from spct.sampling.judgments import JudgeSettings

log = logging.getLogger(__name__)


class QueueFull(Exception):
    """The queue holds ``max_queue`` waiting requests."""


@dataclass
class Job:
    """One request: its queries, scored with ``k`` samples each (MetaRM@k when ``meta``)."""

    queries: list[Query]
    k: int
    meta: bool
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)


class CountingSampler:
    """The sampler, counting its ``generate`` calls and prompts (``/health`` shows them: a batch of requests is
    one call)."""

    def __init__(self, sampler: Sampler):
        self.sampler = sampler
        self.calls = 0
        self.prompts = 0

    def generate(self, prompts, n=1, **kwargs):
        self.calls += 1
        self.prompts += len(prompts)
        return self.sampler.generate(prompts, n, **kwargs)


@dataclass
class Engine:
    """The loaded GRM (and meta RM) and how it judges: ``score`` turns a batch of jobs into their results."""

    sampler: Sampler
    settings: JudgeSettings
    meta_rm: tuple | None = None  # spct.training.meta_rm_scoring.load_meta_rm's (model, tokenizer)
    meta_max_length: int | None = None
    meta_batch_size: int = 8
    k_meta: int | None = None

    def score(self, jobs: Sequence[Job]) -> list[list[dict[str, Any]]]:
        """One sample_judgments call for every query of every job (same query twice: sampled once, for the
        largest k asked); then the meta RM over the jobs that asked for it; one aggregate dict per query."""
        queries: dict[str, Query] = {}
        counts: dict[str, int] = {}
        for job in jobs:
            for q in job.queries:
                queries[q.id] = q
                counts[q.id] = max(counts.get(q.id, 0), job.k)
        rows = sample_judgments(list(queries.values()), self.sampler, self.settings, counts, chunk_size=1 << 30)
        results = []
        for job in jobs:
            job_rows = {q.id: rows[q.id][: job.k] for q in job.queries}
            meta = None
            if job.meta:
                meta = meta_rm_scores(
                    self.meta_rm,  # type: ignore[arg-type]  # a loaded (model, tokenizer) is scored as is
                    job.queries,
                    job_rows,
                    self.settings,
                    batch_size=self.meta_batch_size,
                    max_length=self.meta_max_length,
                )
            k_meta = None if self.k_meta is None else min(self.k_meta, job.k)
            results.append(
                [
                    aggregate(q, job_rows[q.id], self.settings.seed, None if meta is None else meta[q.id], k_meta)
                    for q in job.queries
                ]
            )
        return results


class Batcher:
    """The bounded queue and its one worker thread (start with ``start``, stop with ``stop``).

    ``engine`` may be a function that builds the Engine: the worker then loads the models itself, so that every
    engine call runs on the thread that built the engine (vLLM's CPU build checks that its attention runs with the
    OpenMP threads it was set up with, and a new thread starts with other ones).
    """

    def __init__(
        self, engine: Engine | Callable[[], Engine], max_queue: int = 64, max_batch: int = 16, window_s: float = 0.01
    ):
        if max_queue < 1 or max_batch < 1 or window_s < 0:
            raise ValueError("need max_queue >= 1, max_batch >= 1 and a batch window >= 0")
        self._factory = engine
        self.engine: Engine | None = None if callable(engine) else engine
        self._ready = threading.Event()
        self._load_error: BaseException | None = None
        self.max_queue = max_queue
        self.max_batch = max_batch
        self.window_s = window_s
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="spct-serve-batcher", daemon=True)
        self._lock = threading.Lock()
        self.busy = False
        self.counts = dict.fromkeys(
            ("accepted", "rejected", "scored", "dropped", "failed", "batches", "timeouts", "disconnected"), 0
        )
        self.batch_sizes: deque[int] = deque(maxlen=256)  # requests per engine call, latest last

    def start(self) -> None:
        """Start the worker and wait until its engine is loaded (a loading error is raised here)."""
        self._thread.start()
        self._ready.wait()
        if self._load_error is not None:
            raise self._load_error

    def stop(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(queue.Full):  # the worker is a daemon thread: it ends with the process
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def submit(self, queries: list[Query], k: int, meta: bool) -> asyncio.Future:
        """Queue a job from the event loop; its future resolves to one aggregate dict per query."""
        loop = asyncio.get_running_loop()
        job = Job(queries, k, meta, loop.create_future(), loop)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.count("rejected")
            raise QueueFull(f"the queue is full ({self.max_queue} requests waiting); retry later") from None
        self.count("accepted")
        return job.future

    def stats(self) -> dict[str, Any]:
        sizes = list(self.batch_sizes)
        sampler = self.engine.sampler
        with self._lock:
            counts = dict(self.counts)
        return {
            **counts,
            "queued": self._queue.qsize(),
            "max_queue": self.max_queue,
            "busy": self.busy,
            "max_batch": self.max_batch,
            "batch_window_ms": self.window_s * 1000,
            "recent_batch_sizes": sizes[-32:],
            "largest_batch": max(sizes, default=0),
            "generate_calls": getattr(sampler, "calls", None),
            "generated_prompts": getattr(sampler, "prompts", None),
        }

    def _take_batch(self, first: Job) -> list[Job]:
        """``first`` and whatever else arrives within the window, up to ``max_batch`` jobs."""
        batch = [first]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            try:
                remaining = deadline - time.monotonic()
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # stop: finish this batch first
                self._queue.put(None)
                break
            batch.append(job)
        return batch

    def _run(self) -> None:
        try:
            if callable(self._factory):
                self.engine = self._factory()
        except BaseException as e:  # reported by start()
            self._load_error = e
            return
        finally:
            self._ready.set()
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._take_batch(first)
            live = [job for job in batch if not job.future.cancelled()]
            self.count("dropped", len(batch) - len(live))
            if live:
                self._score(live)

    def _score(self, jobs: list[Job]) -> None:
        self.busy = True
        try:
            results = self.engine.score(jobs)
        except Exception as e:  # one bad batch must not stop the server
            log.exception("scoring a batch of %d requests failed", len(jobs))
            self.count("failed", len(jobs))
            for job in jobs:
                job.loop.call_soon_threadsafe(_resolve, job.future, None, e)
            return
        finally:
            self.busy = False
        with self._lock:
            self.counts["batches"] += 1
            self.counts["scored"] += len(jobs)
            self.batch_sizes.append(len(jobs))
        for job, result in zip(jobs, results):
            job.loop.call_soon_threadsafe(_resolve, job.future, result, None)


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    """On the event loop: a future cancelled meanwhile (the client left) is left alone; its result is dropped."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
