"""What the converters share when they turn a raw item into a ``Record``: the fields naming where it comes from, the
order of a chosen / rejected pair, and the usual checks (blank prompt, blank or identical responses) whose failures
are counted in ``skipped`` instead of raising.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from spct.data.raw import RawRow
from spct.data.sources import Skipped, count_skip, is_blank
from spct.data.splits import split_of
from spct.records import Record


def ordered_pair(record_id: str, chosen: str, rejected: str) -> tuple[list[str], int]:
    """Put the chosen response first or second, decided by a hash of the record id; returns (responses, best).

    Used where the raw data always lists the preferred response first: otherwise a judge biased towards
    position 0 would look perfect. sha256, not ``hash()``, because Python salts string hashes per process.
    """
    if hashlib.sha256(record_id.encode("utf-8")).digest()[0] % 2 == 0:
        return [chosen, rejected], 0
    return [rejected, chosen], 1


def pair_record(row: RawRow, chosen: str, rejected: str, **fields: Any) -> Record:
    """``row.record(**fields)`` with the two responses placed by ``ordered_pair`` of ``fields["id"]``."""
    responses, best = ordered_pair(fields["id"], chosen, rejected)
    return row.record(responses=responses, best=best, **fields)


def source_fields(name: str, key: Any, split: str) -> dict[str, Any]:
    """The id ``<name>/<key>``, source, subset and split of a record of a source that is a single subset."""
    return {"id": f"{name}/{key}", "source": name, "subset": name, "split": split}


def subset_fields(record_id: str, source: str, subset: str) -> dict[str, Any]:
    """The id, source, subset and the subset's fixed split (``spct.data.splits.split_of``) of a bundled record."""
    return {"id": record_id, "source": source, "subset": subset, "split": split_of(subset)}


def usable_responses(
    skipped: Skipped,
    subset: str,
    prompt: str | None,
    best: str,
    others: Sequence[str],
    *,
    empty: str = "empty response",
    identical: str = "identical responses",
) -> bool:
    """True when the item can become a record; else the first reason it cannot is counted and False returned.

    The reasons, in order: ``"empty prompt"`` (``prompt`` blank; None: the caller checked the prompt), ``empty``
    (``best`` or one of ``others`` blank) and ``identical`` (one of ``others`` equals ``best``).
    """
    if prompt is not None and is_blank(prompt):
        count_skip(skipped, subset, "empty prompt")
    elif is_blank(best) or any(is_blank(text) for text in others):
        count_skip(skipped, subset, empty)
    elif best in others:
        count_skip(skipped, subset, identical)
    else:
        return True
    return False


__all__ = ["ordered_pair", "pair_record", "source_fields", "subset_fields", "usable_responses"]
