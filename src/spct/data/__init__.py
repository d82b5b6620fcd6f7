"""Bundled real data: converters from each published raw format into ``spct.records.Record``.

``prepare_all(Path("data/raw"))`` runs every converter; ``write_prepared`` writes train.jsonl, eval.jsonl and a
manifest. The split of every subset is fixed in ``spct.data.splits.SPLIT_OF``. See data/README.md.
"""

from spct.data.build import ordered_pair
from spct.data.converters import (
    convert_evalbiasbench,
    convert_hh_rlhf,
    convert_humanevalpack,
    convert_llmbar,
    convert_llmbar_file,
    convert_llmbar_processed,
    convert_pandalm,
    convert_xstest,
)
from spct.data.math_converters import convert_gsm8k, convert_math500, convert_math_cot
from spct.data.prepare import format_count_table, prepare_all, write_prepared
from spct.data.raw import RawDataError
from spct.data.splits import SPLIT_OF, split_of

__all__ = [
    "SPLIT_OF",
    "RawDataError",
    "convert_evalbiasbench",
    "convert_gsm8k",
    "convert_hh_rlhf",
    "convert_humanevalpack",
    "convert_llmbar",
    "convert_llmbar_file",
    "convert_llmbar_processed",
    "convert_math500",
    "convert_math_cot",
    "convert_pandalm",
    "convert_xstest",
    "format_count_table",
    "ordered_pair",
    "prepare_all",
    "split_of",
    "write_prepared",
]
