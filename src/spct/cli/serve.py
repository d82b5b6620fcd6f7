"""``spct serve``: load a GRM (and optionally a meta RM) once and serve it over HTTP (``spct.serving``).

    spct serve --model results/embedded-default/models/spct --backend vllm --k 8 --port 8000

Binds 127.0.0.1 by default: the server has no authentication, so expose it (``--host 0.0.0.0``) only on a
network you trust.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def settings_from_args(args):
    """The judge settings of ``spct serve``'s flags (those of ``spct judge``)."""
    from spct.sampling.judgments import JudgeSettings

    low, high = args.score_range
    if args.temperature < 0 or args.max_new_tokens < 1 or low >= high:
        raise ValueError("need --temperature >= 0, --max-new-tokens >= 1 and --score-range LOW < HIGH")
    return JudgeSettings(
        prompt_variant=args.prompt_variant,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        score_range=(low, high),
        single_score_range=(low, high),  # a response judged alone is scored on the same scale
        guarantee_score_format=args.guarantee_score_format,
        use_reference=True,  # a request's reference (an OpenRLHF label) is shown to the judge
        seed=args.seed,
    )


def check_args(args) -> None:
    if not 1 <= args.k <= args.max_k:
        raise ValueError(f"--k must be in 1..--max-k ({args.max_k}), got {args.k}")
    if args.max_queue < 1 or args.max_batch < 1 or args.batch_window_ms < 0 or args.timeout <= 0:
        raise ValueError("need --max-queue >= 1, --max-batch >= 1, --batch-window-ms >= 0 and --timeout > 0")
    if args.k_meta is not None and (args.meta_rm is None or not args.k_meta >= 1):
        raise ValueError(f"--k-meta needs --meta-rm and must be >= 1, got {args.k_meta}")
    if args.meta_rm is not None and not Path(args.meta_rm).is_dir():
        raise FileNotFoundError(f"--meta-rm {args.meta_rm}: no such directory")


def build_server(args):
    """Load the models and build (app, batcher); the batcher is started."""
    from spct.cli.judge import model_options
    from spct.sampling import load_sampler
    from spct.serving.app import ServeOptions, create_app
    from spct.serving.batcher import Batcher, CountingSampler, Engine

    check_args(args)
    settings = settings_from_args(args)
    # The model folder and backend are checked here, on the main thread: the engine loads on the batcher's thread,
    # where a mistyped path would surface only when the first request fails.
    options = model_options(args)
    backend = options["backend"]

    def load_engine() -> Engine:  # runs on the batcher's worker thread, which makes every engine call
        sampler = CountingSampler(load_sampler(args.model, **options))
        meta, meta_len = None, None
        if args.meta_rm is not None:
            from spct.training.meta_rm_scoring import load_meta_rm, trained_max_length

            meta, meta_len = load_meta_rm(args.meta_rm), trained_max_length(args.meta_rm)
        return Engine(sampler, settings, meta, meta_len, args.batch_size, args.k_meta)

    batcher = Batcher(load_engine, args.max_queue, args.max_batch, args.batch_window_ms / 1000)
    batcher.start()
    serve_options = ServeOptions(
        model=str(args.model),
        backend=backend,
        k=args.k,
        max_k=args.max_k,
        timeout_s=args.timeout,
        meta_rm=None if args.meta_rm is None else str(args.meta_rm),
        score_range=tuple(settings.score_range),
        single_score_range=tuple(settings.single_score_range),
    )
    return create_app(batcher, serve_options), batcher


def main(args) -> int:
    import uvicorn

    if not _loopback(args.host):
        log.warning("serving on %s: the server has no authentication; use it on a trusted network only", args.host)
    app, batcher = build_server(args)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=5)
    finally:
        batcher.stop()
    return 0


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a GRM over HTTP: POST /score, POST /get_reward (OpenRLHF), GET /health",
        description="Load the GRM once and judge requests in batches (one engine call for all waiting requests).",
    )
    p.add_argument("--model", required=True, help="GRM checkpoint directory or hub id")
    p.add_argument("--meta-rm", default=None, help="meta RM directory: MetaRM@k (requests may turn it off)")
    p.add_argument("--k-meta", type=int, default=None, help="samples kept by the meta RM (default k/2)")
    p.add_argument("--k", type=int, default=8, help="sampled judgments per query unless a request says")
    p.add_argument("--max-k", type=int, default=32, help="the largest k a request may ask for")
    p.add_argument("--temperature", type=float, default=0.5)
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--guarantee-score-format", action="store_true", help="force a valid score line")
    p.add_argument("--prompt-variant", choices=("principles", "no_principles"), default="principles")
    p.add_argument("--score-range", type=int, nargs=2, default=[1, 10], metavar=("LOW", "HIGH"))
    p.add_argument("--seed", type=int, default=0, help="seeds the shuffles and the sampler")
    p.add_argument("--backend", choices=("auto", "transformers", "vllm"), default="auto")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per batch (transformers; meta RM)")
    p.add_argument("--max-model-len", type=int, default=None, help="context length (default: the model's)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-queue", type=int, default=64, help="requests waiting before new ones get 503")
    p.add_argument("--max-batch", type=int, default=16, help="requests scored together in one engine call")
    p.add_argument("--batch-window-ms", type=float, default=10.0, help="wait this long for more requests")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a waiting request gets 504")
    p.set_defaults(func=main)
