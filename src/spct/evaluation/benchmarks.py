"""The benchmarks, each declared once, the way lm-evaluation-harness declares a task.

A ``Benchmark`` is one entry of ``BENCHMARKS``: where its items come from (a ``spct.data.sources.Source``: hub id,
split, column mapping, converter; or the members of a group loaded together), its official metric
(``spct.evaluation.metrics.METRICS``, which also fixes the tie rule) and the column of the paper's table it fills
(None for a benchmark the paper does not report). Adding a benchmark = one entry + its converter (in ``spct.data``)
+ its metric (``spct.evaluation.metrics``). Loading is ``spct.evaluation.loading``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spct.data.benchmark_converters import ppe_correctness_converter, ppe_preference_records, rewardbench_records
from spct.data.judgebench import judgebench_records
from spct.data.rewardbench2 import rewardbench2_records
from spct.data.rm_bench import read_rm_bench_files, rm_bench_records
from spct.data.rmb_realmistake import realmistake_records, rmb_records
from spct.data.sources import Rows, Skipped, Source
from spct.evaluation.metrics import STRICT_TIES
from spct.evaluation.official import PPE_CORRECTNESS_DOMAINS
from spct.records import Record


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its source (or the members of a group), official metric and paper column (None: none)."""

    name: str
    sources: tuple[Source, ...]
    metric: str = "accuracy"
    paper_column: str | None = None

    @property
    def group(self) -> bool:
        """Loaded from several sources together (``ppe_correctness``: one per domain)."""
        return len(self.sources) != 1 or self.sources[0].name != self.name

    @property
    def strict_ties(self) -> bool:
        """A tie with any loser counts as wrong (RMB's rule); otherwise ties break by shuffle-then-argmax."""
        return self.metric in STRICT_TIES


PPE_DOMAIN_SOURCES = {  # domain (PPE_CORRECTNESS_DOMAINS spelling) -> benchmark name
    "MMLU-Pro": "ppe_mmlu_pro",
    "MATH": "ppe_math",
    "GPQA": "ppe_gpqa",
    "MBPP-Plus": "ppe_mbpp_plus",
    "IFEval": "ppe_ifeval",
}

_PPE_CORRECTNESS_COLUMNS = {
    "prompt": "prompt",
    "scores": "scores",
    "pairs": "sampled_conflict_pairs",
    "response_prefix": "response_",  # a prefix, not a column: response index i is column f"{prefix}{i + 1}"
    "question_id": "question_id",
    "model_name": "model_name",
}
_PPE_CONFIRMED = (
    "assumed from third-party loaders in the code index that read lmarena-ai/PPE-*-Best-of-K split 'train' with "
    "row['prompt'], row['scores'][i], row['sampled_conflict_pairs'] -> [i, j], row[f'response_{i + 1}'], "
    "row['question_id'], row['model_name']; the dataset card itself was not readable here"
)


def _ppe_domain(domain: str) -> Source:
    return Source(
        name=PPE_DOMAIN_SOURCES[domain],
        description=f"PPE correctness {domain}: one pair per sampled conflict pair (one correct, one incorrect)",
        hub_id=f"lmarena-ai/PPE-{domain}-Best-of-K",
        split="train",
        columns=dict(_PPE_CORRECTNESS_COLUMNS),
        converter=ppe_correctness_converter(domain),
        optional=frozenset({"response_prefix", "question_id", "model_name"}),
        confirmed=_PPE_CONFIRMED,
    )


_PPE_DOMAINS = [_ppe_domain(domain) for domain in PPE_CORRECTNESS_DOMAINS]


# Each benchmark, declared once: where its items come from (a ``Source``, or the members of a group loaded
# together), its official metric (``spct.evaluation.metrics.official_score``) and the paper column it fills (SPCT.md
# 4). A reconstruction from bundled data has no paper column: it is reported under its own name.
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark(
            name="rewardbench",
            sources=(
                Source(
                    name="rewardbench",
                    description="RewardBench pairs; subset = official subset name; order from sha256 of the id",
                    hub_id="allenai/reward-bench",
                    split="filtered",
                    columns={
                        "prompt": "prompt",
                        "chosen": "chosen",
                        "rejected": "rejected",
                        "subset": "subset",
                        "id": "id",
                        "chosen_model": "chosen_model",
                        "rejected_model": "rejected_model",
                    },
                    converter=rewardbench_records,
                    optional=frozenset({"chosen_model", "rejected_model"}),
                    confirmed="SPCT.md section 4 (columns and split); third-party loaders in the code index agree",
                ),
            ),
            metric="rewardbench",
            paper_column="RB",
        ),
        Benchmark(
            name="ppe_preference",
            sources=(
                Source(
                    name="ppe_preference",
                    description="PPE human-preference pairs (Chatbot Arena votes); ties dropped and counted",
                    hub_id="lmarena-ai/PPE-Human-Preference-V1",
                    split="test",
                    columns={
                        "prompt": "prompt",
                        "response_1": "response_1",
                        "response_2": "response_2",
                        "winner": "winner",
                        "question_id": "question_id",
                        "model_a": "model_a",
                        "model_b": "model_b",
                        "language": "language",
                    },
                    converter=ppe_preference_records,
                    optional=frozenset({"question_id", "model_a", "model_b", "language"}),
                    confirmed=(
                        "hub id and split 'test' from the hub file listing (docs index: "
                        "refs/convert/parquet/default/test); columns from lmarena-ai/PPE-Debug's card (question_id, "
                        "prompt, response_1, response_2, winner) and third-party loaders (winner 'model_a'/'model_b', "
                        "model_a, model_b, language)"
                    ),
                ),
            ),
            metric="accuracy",
            paper_column="PPE-P",
        ),
        *(Benchmark(name=source.name, sources=(source,)) for source in _PPE_DOMAINS),
        Benchmark(name="ppe_correctness", sources=tuple(_PPE_DOMAINS), metric="ppe_correctness", paper_column="PPE-C"),
        Benchmark(
            name="rmb",
            sources=(
                Source(
                    name="rmb",
                    description="RMB pairwise (pairs) and best-of-N (lists) from the published JSON files; local only",
                    hub_id=None,
                    split=None,
                    columns={
                        "pair_uid": "pair_uid",
                        "bon_uid": "bon_uid",
                        "conversation_input": "conversation_input",
                        "chosen": "chosen",
                        "reject": "reject",
                        "bon_best": "bon_best",
                        "loser_list": "loser_list",
                        "category_path": "category_path",
                        "turn.role": "role",
                        "turn.content": "content",
                        "answer.text": "answer",
                        "answer.model": "llm_name",
                    },
                    converter=rmb_records,
                    optional=frozenset(
                        {"pair_uid", "bon_uid", "chosen", "reject", "bon_best", "loser_list"}
                    ),  # kind-specific
                    confirmed=(
                        "Zhou-Zoey/RMB-Reward-Model-Benchmark RMB_dataset/ (BoN_set 165a8f35, Pairwise_set 94c5976b): "
                        "field names, numeric-string uids shared by BoN and pairwise items, category_path"
                    ),
                ),
            ),
            metric="rmb",
            paper_column="RMB",
        ),
        Benchmark(
            name="realmistake",
            sources=(
                Source(
                    name="realmistake",
                    description=(
                        "ReaLMistake single responses, label 1 = no_error; local only (password zip, never bundled)"
                    ),
                    hub_id=None,
                    split=None,
                    columns={
                        "input": "input",
                        "llm_response": "llm_response",
                        "error_label": "error_label",
                        "error_categories": "error_categories",
                        "metadata": "metadata",
                    },
                    converter=realmistake_records,
                    optional=frozenset({"error_categories", "metadata"}),
                    extra_files=frozenset({"example.jsonl"}),  # the paper's examples, copies of task rows
                    confirmed=(
                        "psunlpgroup/ReaLMistake 14193637: README (data.zip layout, 900 instances), src/config.py "
                        "(three tasks x gpt-4-0613 / Llama-2-70b-chat-hf), get_dataset_stats.py (error_label)"
                    ),
                ),
            ),
            metric="roc_auc",
            paper_column="ReaLMistake",
        ),
        Benchmark(
            name="judgebench",
            sources=(
                Source(
                    name="judgebench",
                    description=(
                        "JudgeBench response pairs, one record per pair (responses [A, B], best = the label's "
                        "winner), subset = category; hub split 'gpt' (350 GPT-4o pairs, the leaderboard's set); "
                        "the Claude pairs (270) from path: to the published data/*.jsonl"
                    ),
                    hub_id="ScalerLab/JudgeBench",
                    split="gpt",
                    columns={
                        "pair_id": "pair_id",
                        "original_id": "original_id",
                        "source": "source",
                        "question": "question",
                        "response_model": "response_model",
                        "response_A": "response_A",
                        "response_B": "response_B",
                        "label": "label",
                    },
                    converter=judgebench_records,
                    optional=frozenset({"original_id"}),
                    confirmed=(
                        "ScalerLab/JudgeBench README.md and data/dataset=judgebench,response_model=*.jsonl at "
                        "12a499c5c29f06940d259b49250fca627d2a0ee5; hub splits 'gpt' (350) and 'claude' (270) from "
                        "the hub's viewer and README (load_dataset('ScalerLab/JudgeBench', split='gpt'))"
                    ),
                ),
            ),
            metric="judgebench",
        ),
        Benchmark(
            name="rm_bench",
            sources=(
                Source(
                    name="rm_bench",
                    description=(
                        "RM-Bench: each item (3 chosen x 3 rejected styles) as its nine pairs, subset "
                        "<domain>/<chosen style><rejected style>; the hub file or the repo's data/ folder"
                    ),
                    hub_id="THU-KEG/RM-Bench",
                    split="train",
                    columns={
                        "id": "id",
                        "prompt": "prompt",
                        "chosen": "chosen",
                        "rejected": "rejected",
                        "domain": "domain",
                    },
                    converter=rm_bench_records,
                    optional=frozenset({"domain"}),  # data/<domain>_filtered.json carry none: from the file name
                    read_files=read_rm_bench_files,
                    confirmed=(
                        "github.com/THU-KEG/RM-Bench README.md at 2119ec5664d042fd9f863233a9e8e3ab08f61ad1 (item "
                        "schema, data/ files) and scripts/utils.py (domain split, vendored in xiusic/Rubric-RM at "
                        "267c9a35ddce7d5742fdd951a95a05d07ec85a24); a row of total_dataset.json printed in that "
                        "repo's data/data_process.ipynb (id 'chat/100', lists of 3, domain 'chat'); hub "
                        "THU-KEG/RM-Bench holds total_dataset.json only, parquet split 'train' (hub file listing)"
                    ),
                ),
            ),
            metric="rm_bench",
        ),
        Benchmark(
            name="rewardbench2",
            sources=(
                Source(
                    name="rewardbench2",
                    description=(
                        "RewardBench 2: one list per best-of-4 row (all completions in one judge prompt) and one per "
                        "Ties prompt id (its ref and tied samples together); subset = the published subset"
                    ),
                    hub_id="allenai/reward-bench-2",
                    split="test",
                    columns={
                        "id": "id",
                        "prompt": "prompt",
                        "chosen": "chosen",
                        "rejected": "rejected",
                        "num_correct": "num_correct",
                        "subset": "subset",
                        "total_completions": "total_completions",
                        "models": "models",
                    },
                    converter=rewardbench2_records,
                    optional=frozenset({"total_completions", "models"}),
                    confirmed=(
                        "the dataset card's dataset_info (id, prompt, chosen and rejected lists, num_correct, "
                        "num_incorrect, total_completions, models, subset, additional_metadata; split test, 1865 "
                        "rows) and upstream's readers: allenai/reward-bench rewardbench/utils.py "
                        "load_bon_dataset_v2 (completions = chosen + rejected) and process_single_model (Ties ids "
                        "'<ref|tied>:<prompt id>', the first num_correct completions correct), commit "
                        "a0096928eb1d54edd3f6361374708cc68e738b79"
                    ),
                ),
            ),
            metric="rewardbench2",
        ),
    ]
}

BENCHMARK_SOURCES: dict[str, Source] = {b.name: b.sources[0] for b in BENCHMARKS.values() if not b.group}
GROUPS: dict[str, list[str]] = {b.name: [s.name for s in b.sources] for b in BENCHMARKS.values() if b.group}

convert_rewardbench = BENCHMARK_SOURCES["rewardbench"].convert
convert_ppe_preference = BENCHMARK_SOURCES["ppe_preference"].convert
convert_rmb = BENCHMARK_SOURCES["rmb"].convert
convert_realmistake = BENCHMARK_SOURCES["realmistake"].convert


def convert_ppe_correctness(
    rows: Rows, domain: str, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
) -> list[Record]:
    """PPE correctness rows of one ``domain`` (a ``PPE_CORRECTNESS_DOMAINS`` name) -> pairs."""
    if domain not in PPE_CORRECTNESS_DOMAINS:
        raise ValueError(f"unknown PPE correctness domain {domain!r}; expected one of {PPE_CORRECTNESS_DOMAINS}")
    return BENCHMARK_SOURCES[PPE_DOMAIN_SOURCES[domain]].convert(rows, columns, skipped, keys=keys)


def benchmark(name: str) -> Benchmark:
    """The declaration of benchmark ``name``; an unknown name raises ``ValueError``."""
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}") from None


def benchmark_source(name: str) -> Source:
    """The source of a benchmark that is not a group; anything else raises ``ValueError``."""
    if name not in BENCHMARK_SOURCES:
        raise ValueError(f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    return BENCHMARK_SOURCES[name]


def benchmark_metric(spec: Mapping[str, Any]) -> str:
    """The metric of a configured benchmark: its ``metric`` key, else its source's official metric, else accuracy."""
    source = spec.get("source")
    return spec.get("metric") or (BENCHMARKS[source].metric if source in BENCHMARKS else "accuracy")


def paper_column(spec: Mapping[str, Any]) -> str | None:
    """The column of the paper's table this benchmark fills (RB, PPE-P, PPE-C, RMB, ReaLMistake), or None."""
    source = spec.get("source")
    return BENCHMARKS[source].paper_column if source in BENCHMARKS else None
