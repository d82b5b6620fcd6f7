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
