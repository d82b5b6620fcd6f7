"""The FastAPI application of ``spct serve``: ``POST /score``, ``POST /get_reward`` (OpenRLHF's remote reward
protocol), ``GET /health``.

Every request goes through the ``Batcher`` (one engine call for all waiting requests). A full queue answers 503, a
request not scored within the timeout 504, a bad body 422 naming the field. A client that disconnects is noticed
while it waits; its job is dropped if not started, or its result discarded, and nobody else is disturbed.
Client text only ever goes into the judge prompt as data: scores come from parsing the GRM's own generated text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from spct.judging import Query
from spct.reward import rewards_from_result
from spct.serving.batcher import Batcher, QueueFull
from spct.serving.reward import query_id, split_query
from spct.serving.schemas import RewardRequest, RewardResponse, ScoreRequest

log = logging.getLogger(__name__)
POLL_S = 0.05  # how often a waiting request checks that its client is still there


@dataclass(frozen=True)
class ServeOptions:
    """What the server tells ``/health`` and how it treats requests."""

    model: str
    backend: str
    k: int = 8
    max_k: int = 32
    timeout_s: float = 300.0
    meta_rm: str | None = None
    # The judge's scales, so that a remote client maps scores to rewards as the server does (spct.reward).
    score_range: tuple[int, int] = (1, 10)
    single_score_range: tuple[int, int] = (1, 10)


class HTTPError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def create_app(batcher: Batcher, options: ServeOptions) -> FastAPI:
    """The application around a started ``Batcher`` (the caller starts and stops it)."""
    app = FastAPI(title="spct serve", description="a SPCT generative reward model (GRM) over HTTP")
    app.state.batcher = batcher
    app.state.options = options
    app.state.started = time.time()
    _add_error_handlers(app)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": options.model,
            "backend": options.backend,
            "k": options.k,
            "max_k": options.max_k,
            "meta_rm": options.meta_rm,
            "score_range": list(options.score_range),
            "single_score_range": list(options.single_score_range),
            "timeout_s": options.timeout_s,
            "uptime_s": round(time.time() - app.state.started, 1),
            "stats": batcher.stats(),
        }

    @app.post("/score")
    async def score(body: ScoreRequest, request: Request) -> dict[str, Any]:
        k, meta = _settings(body.k, body.meta_rm, options)
        qid = query_id(body.prompt, body.responses, body.reference)
        query = Query(id=qid, prompt=body.prompt, responses=list(body.responses), reference=body.reference)
        (result,) = await _judge(request, batcher, [query], k, meta, options.timeout_s)
        return result

    @app.post("/get_reward")
    async def get_reward(body: RewardRequest, request: Request) -> RewardResponse:
        queries, matched = _reward_queries(body)
        k, meta = _settings(None, None, options)
        results = await _judge(request, batcher, queries, k, meta, options.timeout_s)
        score_range = batcher.engine.settings.range_for(1)
        rewards = [rewards_from_result(r, 1, score_range)[0] for r in results]
        return RewardResponse(
            rewards=rewards,
            scores=rewards,
            extra_logs={
                "grm_valid_fraction": [r["valid_samples"] / max(1, len(r["samples"])) for r in results],
                "grm_prompt_mismatch": [0.0 if m else 1.0 for m in matched],
            },
        )

    return app


def _settings(k: int | None, meta: bool | None, options: ServeOptions) -> tuple[int, bool]:
    k = options.k if k is None else k
    if not 1 <= k <= options.max_k:
        raise HTTPError(422, f"k must be in 1..{options.max_k} (the server's --max-k), got {k}", "k")
    if meta and options.meta_rm is None:
        raise HTTPError(422, "meta_rm: this server has no meta RM (start it with --meta-rm DIR)", "meta_rm")
    return k, options.meta_rm is not None if meta is None else meta


def _reward_queries(body: RewardRequest) -> tuple[list[Query], list[bool]]:
    """One pointwise query per OpenRLHF ``query``: the response is split off with ``prompts`` (``split_query``);
    a non-empty string label is the reference answer."""
    if len(body.prompts) != len(body.query):
        raise HTTPError(422, f"prompts has {len(body.prompts)} entries for {len(body.query)} queries", "prompts")
    labels = body.labels if body.labels is not None else [None] * len(body.query)
    if len(labels) != len(body.query):
        raise HTTPError(422, f"labels has {len(labels)} entries for {len(body.query)} queries", "labels")
    queries, matched = [], []
    for i, (text, prompt, label) in enumerate(zip(body.query, body.prompts, labels)):
        if not prompt.strip():
            raise HTTPError(422, f"prompts[{i}] is empty: the judge needs the prompt", f"prompts.{i}")
        response, ok = split_query(text, prompt)
        reference = label if isinstance(label, str) and label.strip() else None
        qid = query_id(prompt, [response], reference)
        queries.append(Query(id=qid, prompt=prompt, responses=[response], reference=reference))
        matched.append(ok)
    return queries, matched


async def _judge(
    request: Request, batcher: Batcher, queries: list[Query], k: int, meta: bool, timeout_s: float
) -> list[dict[str, Any]]:
    """Queue the job and wait for it, while the client is still there and the timeout has not passed."""
    try:
        future = batcher.submit(queries, k, meta)
    except QueueFull as e:
        raise HTTPError(503, str(e)) from None
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            done, _ = await asyncio.wait({future}, timeout=POLL_S)
            if done:
                return future.result()
            if time.monotonic() > deadline:
                batcher.count("timeouts")
                raise HTTPError(504, f"not scored within the server's timeout ({timeout_s:g} s)")
            if await request.is_disconnected():
                batcher.count("disconnected")
                raise HTTPError(499, "client disconnected")
    finally:
        future.cancel()  # no-op when done; otherwise the worker drops the job or discards its result


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPError)
    async def http_error(_request: Request, exc: HTTPError) -> JSONResponse:
        body: dict[str, Any] = {"error": exc.message}
        if exc.field is not None:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        fields = [".".join(str(part) for part in e["loc"]) for e in errors]
        message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors))
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        return JSONResponse({"error": message, "field": fields[0], "detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)
