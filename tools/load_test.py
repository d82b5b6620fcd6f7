"""Load test of a running ``spct serve``: N concurrent clients, bounded in requests and time, loopback only.

    spct serve --model results/embedded-default/models/spct --backend vllm --k 8 --port 8000 &
    python tools/load_test.py --url http://127.0.0.1:8000 --clients 8 --requests 64

Three phases:
1. steady: ``--clients`` clients send ``--requests`` ``POST /score`` requests in all (or stop at ``--duration``):
   requests/s, judgments/s (sampled judgments returned per second), p50/p99 latency, rejected (503) and failed
   (anything else but 200) requests. Below the queue bound rejected and failed must both be 0.
2. a client killed mid-request: one request of a concurrent group is cancelled; the others must all succeed.
3. queue full: a burst above the server's bound (max_queue + max_batch + 1 + ``--burst-extra`` at once): the 503s
   are counted, nothing else may fail, and ``GET /health`` must still answer afterwards.

Exits 1 when a check fails (a failed request in any phase, a 503 below the bound, no 503 in the burst, no health).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import statistics
import sys
import time
from urllib.parse import urlparse

import httpx

MAX_REQUESTS, MAX_CLIENTS, MAX_DURATION_S, MAX_BURST = 10_000, 256, 600.0, 2_000


def loopback_url(url: str) -> str:
    host = urlparse(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"--url {url}: only a loopback host (127.0.0.1, ::1, localhost) may be load-tested")
    return url.rstrip("/")


def body(i: int, responses: int, k: int | None) -> dict:
    prompt = f"Question {i}: what is {i} + {i}? Answer briefly."
    out = {"prompt": prompt, "responses": [f"{2 * i + j}" for j in range(responses)]}
    if k is not None:
        out["k"] = k
    return out


async def one(client: httpx.AsyncClient, payload: dict) -> tuple[int, float, int]:
    """(status, seconds, judgments returned); status 0 is a transport error."""
    start = time.perf_counter()
    try:
        reply = await client.post("/score", json=payload)
    except httpx.HTTPError:
        return 0, time.perf_counter() - start, 0
    samples = len(reply.json().get("samples", [])) if reply.status_code == 200 else 0
    return reply.status_code, time.perf_counter() - start, samples


async def steady(client, args) -> dict:
    results: list[tuple[int, float, int]] = []
    next_i = 0
    stop_at = time.monotonic() + args.duration

    async def worker():
        nonlocal next_i
        while next_i < args.requests and time.monotonic() < stop_at:
            i, next_i = next_i, next_i + 1
            results.append(await one(client, body(i, args.responses, args.k)))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.clients)))
    wall = time.perf_counter() - start
    ok = sorted(s for code, s, _ in results if code == 200)
    return {
        "requests": len(results),
        "ok": len(ok),
        "rejected_503": sum(code == 503 for code, _, _ in results),
        "failed": sum(code not in (200, 503) for code, _, _ in results),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 2),
        "judgments_per_s": round(sum(n for _, _, n in results) / wall, 2),
        "p50_s": round(statistics.median(ok), 3) if ok else None,
        "p99_s": round(ok[min(len(ok) - 1, int(0.99 * len(ok)))], 3) if ok else None,
    }


async def killed_client(client, args) -> dict:
    tasks = [asyncio.create_task(one(client, body(10_000 + i, args.responses, args.k))) for i in range(args.clients)]
    await asyncio.sleep(0.2)
    tasks[0].cancel()  # a client killed mid-request
    others = await asyncio.gather(*tasks[1:])
    return {"others": len(others), "others_ok": sum(code == 200 for code, _, _ in others)}


async def burst(client, stats: dict, args) -> dict:
    size = min(MAX_BURST, stats["max_queue"] + stats["max_batch"] + 1 + args.burst_extra)
    payloads = [body(20_000 + i, args.responses, args.k) for i in range(size)]
    results = await asyncio.gather(*(one(client, p) for p in payloads))
    health = await client.get("/health")
    return {
        "sent": size,
        "ok": sum(code == 200 for code, _, _ in results),
        "rejected_503": sum(code == 503 for code, _, _ in results),
        "failed": sum(code not in (200, 503) for code, _, _ in results),
        "health_after": health.status_code,
    }


async def run(args) -> dict:
    limits = httpx.Limits(max_connections=MAX_BURST + MAX_CLIENTS)
    async with httpx.AsyncClient(base_url=args.url, timeout=args.request_timeout, limits=limits) as client:
        health = (await client.get("/health")).json()
        report = {"server": {k: health[k] for k in ("model", "backend", "k", "meta_rm")}}
        report["steady"] = await steady(client, args)
        report["killed_client"] = await killed_client(client, args)
        if not args.no_burst:
            report["queue_full"] = await burst(client, health["stats"], args)
        report["server_stats"] = (await client.get("/health")).json()["stats"]
    return report


def failures(report: dict) -> list[str]:
    bad = []
    if report["steady"]["failed"] or report["steady"]["rejected_503"]:
        bad.append("steady phase: failed or rejected requests below the queue bound")
    if report["killed_client"]["others_ok"] != report["killed_client"]["others"]:
        bad.append("a killed client disturbed the others")
    burst_report = report.get("queue_full")
    if burst_report and (
        burst_report["failed"] or not burst_report["rejected_503"] or burst_report["health_after"] != 200
    ):
        bad.append("queue-full phase: a failure, no 503, or no health afterwards")
    return bad


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--duration", type=float, default=300.0, help="stop the steady phase after this many seconds")
    p.add_argument("--responses", type=int, default=2, help="responses per request")
    p.add_argument("--k", type=int, default=None, help="k per request (default: the server's)")
    p.add_argument("--burst-extra", type=int, default=8, help="requests above the bound in the queue-full burst")
    p.add_argument("--no-burst", action="store_true", help="skip the queue-full phase")
    p.add_argument("--request-timeout", type=float, default=600.0)
    p.add_argument("--json", default=None, help="also write the report here")
    args = p.parse_args(argv)
    args.url = loopback_url(args.url)
    if not (1 <= args.clients <= MAX_CLIENTS and 1 <= args.requests <= MAX_REQUESTS):
        p.error(f"--clients must be in 1..{MAX_CLIENTS} and --requests in 1..{MAX_REQUESTS}")
    if not 0 < args.duration <= MAX_DURATION_S or args.responses < 1 or args.burst_extra < 0:
        p.error(f"--duration must be in (0, {MAX_DURATION_S}], --responses >= 1, --burst-extra >= 0")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    bad = failures(report)
    for line in bad:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
