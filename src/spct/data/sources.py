"""One generic source loader: where a published data set lives, which columns its converter reads, and how its rows
are fetched (the Hugging Face hub or local files in the published format) and checked before converting.

Both the training sources (``spct.data.training_sources``) and the paper's benchmarks (declared in
``spct.evaluation.benchmarks``) are ``Source`` declarations. A converter is called as
``converter(source, rows, columns, skipped, keys=keys)``; ``Source.convert`` binds the source. Which column feeds
which field is data (``Source.columns``), checked before converting, and overridable with
``columns={logical name: column}`` when a published schema moves. Dropped rows are counted in an optional
``skipped`` counter (keys ``"<subset>: <reason>"``), so drops are reported, not silent.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spct.data.raw import RawDataError, RawRow, read_json_array, read_jsonl
from spct.records import Record

log = logging.getLogger(__name__)

Skipped = Counter[str] | None
Rows = Iterable[Mapping[str, Any]] | Sequence[RawRow]

PROBE_TIMEOUT_S = 5.0
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's reading of boolean environment variables


def count_skip(skipped: Skipped, subset: str, reason: str) -> None:
    """Count one dropped row under ``"<subset>: <reason>"`` (nothing when ``skipped`` is None)."""
    if skipped is not None:
        skipped[f"{subset}: {reason}"] += 1


def is_blank(text: str) -> bool:
    return not text.strip()


# --- Declarations and their column mappings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a data set lives and which columns its converter reads.

    ``columns`` maps a logical name (what the converter asks for) to the published column name; logical names with
    a dot (``"completions.overall_score"``) name a key inside a nested object or list column and are not checked as
    top-level columns. ``optional`` lists logical names that may be absent (metadata only). ``hub_id`` None means
    local files only; ``config_names`` are concatenated in order (None: the default config).
    """

    name: str
    hub_id: str | None
    split: str | None
    columns: dict[str, str]
    converter: Callable[..., list[Record]]
    optional: frozenset[str] = frozenset()
    config_names: list[str] | None = None
    data_dir: str | None = None
    revision: str | None = None  # pin a hub revision for an exact rerun; None = the default branch
    # File names in the published folder that are not part of the benchmark (e.g. ReaLMistake's example.jsonl):
    # ``convert_files`` reads none of them and counts their rows as left out, naming the file.
    extra_files: frozenset[str] = frozenset()
    description: str = ""
    confirmed: str = ""  # where the column layout was confirmed, or why it is assumed
    # How local files are read, when the generic ``convert_files`` cannot (RM-Bench: items across files):
    # ``read_files(source, path, columns, skipped) -> records``; None = ``convert_files``.
    read_files: Callable[..., list[Record]] | None = None

    @property
    def label(self) -> str:
        """How error messages name the source: ``name (hub id)``, or the name for a local-only source."""
        return f"{self.name} ({self.hub_id})" if self.hub_id else self.name

    def convert(
        self, rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
    ) -> list[Record]:
        """Run the converter over published rows (dicts, a ``datasets.Dataset`` or ``RawRow``s from local files)."""
        return self.converter(self, rows, columns, skipped, keys=keys)


def resolve_columns(source: Source, override: Mapping[str, str] | None = None) -> dict[str, str]:
    """The source's column mapping with ``override`` applied; an unknown logical name raises ``RawDataError``."""
    override = dict(override or {})
    unknown = sorted(set(override) - set(source.columns))
    if unknown:
        raise RawDataError(
            f"{source.label}: unknown logical column(s) {unknown} in the override; known: {sorted(source.columns)}"
        )
    return {**source.columns, **override}


def check_columns(
    source: Source,
    found: Iterable[str],
    columns: Mapping[str, str] | None = None,
    *,
    required: Iterable[str] | None = None,
    where: str | None = None,
) -> None:
    """Raise ``RawDataError`` when a required top-level column is missing, listing the columns found.

    ``required`` restricts the check to those logical names (e.g. RMB items of one kind); by default every
    non-optional, non-dotted logical name is required. ``where`` (a file and line) prefixes the message.
    """
    mapping = resolve_columns(source, columns)
    found = sorted(found)
    logical = [k for k in mapping if "." not in k and k not in source.optional] if required is None else list(required)
    missing = {k: mapping[k] for k in logical if mapping[k] not in found}
    if missing:
        wanted = ", ".join(f"{column!r} (for {key!r})" for key, column in sorted(missing.items()))
        origin = f"{where}: {source.label}" if where else source.label
        raise RawDataError(
            f"{origin}: missing column(s) {wanted}; found columns {found}. "
            "If the schema moved, pass columns={logical name: new column name}."
        )


def row_keys(name: str, rows: Any, keys: Sequence[Any] | None) -> list[Any]:
    """The row keys (default: the 0-based row index); a count that does not match the rows raises."""
    keys = list(range(len(rows))) if keys is None else list(keys)
    if len(keys) != len(rows):
        raise ValueError(f"{name}: {len(keys)} keys for {len(rows)} rows")
    return keys


def prepare(
    source: Source, rows: Rows, columns: Mapping[str, str] | None, keys: Sequence[Any] | None
) -> tuple[dict[str, str], list[tuple[str, RawRow]]]:
    """Check the columns of ``rows`` and pair each row (wrapped as ``RawRow``) with its key.

    ``rows`` is a list of dicts, a ``datasets.Dataset`` (its schema is checked even when empty) or a list of
    ``RawRow`` from the local-file readers (their positions name file and line).
    """
    mapping = resolve_columns(source, columns)
    origin = source.hub_id or source.name
    if hasattr(rows, "column_names"):  # a datasets.Dataset: its schema, even when it has no rows
        found: list[str] | None = list(rows.column_names)
        wrapped = None
    else:
        rows = list(rows)
        wrapped = [r for r in rows if isinstance(r, RawRow)]
        first = rows[0].data if rows and isinstance(rows[0], RawRow) else (rows[0] if rows else None)
        found = list(first) if isinstance(first, Mapping) else None
        if rows and found is None:
            where = rows[0].where if isinstance(rows[0], RawRow) else f"{origin}, row 0"
            raise RawDataError(f"{where}: expected an object with keys, got {type(first).__name__}")
    if found is not None and (found or len(rows)):
        check_columns(source, found, columns, where=wrapped[0].where if wrapped else None)
    keys = row_keys(source.name, rows, keys)
    items = [
        (str(k), row if isinstance(row, RawRow) else RawRow(row, f"{origin}, row {k}")) for k, row in zip(keys, rows)
    ]
    return mapping, items


RowConverter = Callable[[Source, Mapping[str, str], str, RawRow, Skipped], Record | None]


def row_converter(convert_row: RowConverter) -> Callable[..., list[Record]]:
    """The converter ``(source, rows, columns, skipped, *, keys)`` that checks the columns and keys (``prepare``),
    then calls ``convert_row(source, columns, key, row, skipped)`` on each row in order and keeps the records it
    returns (None: the row was skipped, and counted in ``skipped``). Name and docstring are ``convert_row``'s.
    """

    def convert(
        source: Source, rows: Rows, columns: Mapping[str, str] | None = None, skipped: Skipped = None, *, keys=None
    ) -> list[Record]:
        cols, items = prepare(source, rows, columns, keys)
        return [record for key, row in items if (record := convert_row(source, cols, key, row, skipped)) is not None]

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(convert, attribute, getattr(convert_row, attribute))
    return convert


# --- The hub --------------------------------------------------------------------------------------------------


def offline_reason() -> str | None:
    """Why the hub must not be contacted (``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` set), or None."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return f"{var}={os.environ[var]}"
    return None


def hub_unreachable_reason(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """One HEAD request to the hub endpoint, without retries; the error text when it fails, else None.

    ``datasets.load_dataset`` retries a failed connection five times with back-off (measured: 24 s per call with no
    DNS; with dropped packets each try also waits out HF_HUB_ETAG_TIMEOUT, 10 s). Lowering that timeout would not
    remove the retries, and the env vars are read when huggingface_hub is imported, so callers ask once, with a
    short timeout, before trying any source.
    """
    try:
        from huggingface_hub import constants
        from huggingface_hub.utils import get_session

        get_session().head(constants.ENDPOINT, timeout=timeout)
    except Exception as e:  # any failure means: do not wait on the hub
        return f"hub not reachable: {type(e).__name__}: {e}"[:500]
    return None


def fetch_rows(
    source: Source, max_items: int | None = None, cache_dir: str | os.PathLike | None = None
) -> tuple[Any, list[str]]:
    """Download a source with ``datasets.load_dataset``; returns (rows as a ``datasets.Dataset``, row keys).

    Several configs are concatenated in ``config_names`` order and keyed ``<config>/<row index>``; one config is
    keyed by the row index. With ``max_items`` the rows are a seed-0 random sample of that size (kept in raw
    order), so keys and therefore record ids do not depend on ``max_items``. ``cache_dir`` is passed to
    ``load_dataset`` (None: the ``datasets`` default cache). Network errors propagate.
    """
    import datasets

    extra = {"data_dir": source.data_dir} if source.data_dir else {}
    parts = []
    for config in source.config_names or [None]:
        part = datasets.load_dataset(
            source.hub_id,
            name=config,
            split=source.split,
            revision=source.revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            **extra,
        )
        parts.append((config, part))
    sizes = [len(part) for _, part in parts]
    total = sum(sizes)
    chosen = range(total)
    if max_items is not None and max_items < total:
        chosen = sorted(random.Random(0).sample(range(total), max_items))
    selected, keys, offset = [], [], 0
    for (config, part), size in zip(parts, sizes):
        local = [i - offset for i in chosen if offset <= i < offset + size]
        offset += size
        if len(local) != size:
            part = part.select(local)
        selected.append(part)
        keys += [f"{config}/{i}" if config else str(i) for i in local]
    rows = selected[0] if len(selected) == 1 else datasets.concatenate_datasets(selected)
    return rows, keys


# --- Local files in the published format ------------------------------------------------------------------------

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")
SUFFIX_PATTERN = r"\.(jsonl\.gz|jsonl|json|parquet)$"


def data_files(path: Path) -> list[Path]:
    """``path`` itself when it is a file, else every data file under the folder (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(DATA_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"{path}: no data files ({', '.join(DATA_SUFFIXES)})")
    return files


def read_rows(path: str | os.PathLike) -> list[RawRow]:
    """Rows of one file in a published format, each located by file and line / index / row. Exact repeats are kept:
    a benchmark is scored on its rows as upstream publishes and scores them (RM-Bench keeps every row of a file)."""
    path = Path(path)
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        return read_jsonl(path, keep_repeats=True)
    if name.endswith(".json"):
        return read_json_array(path, keep_repeats=True)
    if name.endswith(".parquet"):
        import datasets

        table = datasets.Dataset.from_parquet(str(path))
        if len(table) == 0:
            raise RawDataError(f"{path}: empty file (no rows)")
        return [RawRow(row, f"{path}, row {i}", i) for i, row in enumerate(table)]
    raise RawDataError(f"{path}: unsupported file type; expected one of {', '.join(DATA_SUFFIXES)}")


def convert_files(
    source: Source, path: str | os.PathLike, columns: Mapping[str, str] | None = None, skipped: Skipped = None
) -> list[Record]:
    """Convert a file, or every data file under a folder (sorted), of ``source`` in its published format.

    Row keys are the 0-based row index for one file and ``<relative path without suffix>/<index>`` for a folder, so
    a single downloaded file gives the same ids as the hub. Files of a folder named in ``source.extra_files`` are
    not read: their rows are counted in ``skipped`` as ``"<name>: <file> (not part of the benchmark)"`` and logged.
    A record id given by two rows raises, naming both files and rows (``unique_ids``).
    """
    path = Path(path)
    files = data_files(path)
    records: list[Record] = []
    origins: list[tuple[Path, list[Any]]] = []  # the file (and its row keys) of each record: duplicate-id errors
    for file in files:
        rows = read_rows(file)
        if file != path and file.name in source.extra_files:
            if skipped is not None:
                skipped[f"{source.name}: {file.name} (not part of the benchmark)"] += len(rows)
            log.info("%s: %s left out (%d rows): not part of the benchmark", source.name, file, len(rows))
            continue
        if len(files) == 1 and file == path:
            keys: list[Any] = list(range(len(rows)))
        else:
            stem = re.sub(SUFFIX_PATTERN, "", file.relative_to(path).as_posix())
            keys = [f"{stem}/{i}" for i in range(len(rows))]
        converted = source.convert(rows, columns, skipped, keys=keys)
        records += converted
        origins += [(file, keys)] * len(converted)
    return unique_ids(records, lambda i, record_id: _origin(source, columns, *origins[i], record_id))


def _origin(source: Source, columns: Mapping[str, str] | None, file: Path, keys: list[Any], record_id: str) -> str:
    """Where in ``file`` the record ``record_id`` comes from: the row (``<file>, index N`` / ``line N``) whose
    conversion gives that id, found by converting the file's rows one by one (only on the error path)."""
    for key, row in zip(keys, read_rows(file)):
        if record_id in {r.id for r in source.convert([row], columns, None, keys=[key])}:
            return row.where
    return f"{file} (row not located)"


def unique_ids(records: list[Record], origin: Callable[[int, str], str] | None = None) -> list[Record]:
    """``records`` unchanged; a repeated record id raises ``RawDataError`` naming where both copies come from
    (``origin(index, id)``: the file and row of the record at that index, when known)."""
    seen: dict[str, int] = {}
    for i, record in enumerate(records):
        if record.id in seen:
            where = "" if origin is None else f": {origin(seen[record.id], record.id)} and {origin(i, record.id)}"
            raise RawDataError(
                f"duplicate record id {record.id!r}{where} give the same id; a benchmark's record ids must be "
                "unique across its files"
            )
        seen[record.id] = i
    return records


__all__ = [
    "DATA_SUFFIXES",
    "PROBE_TIMEOUT_S",
    "SUFFIX_PATTERN",
    "RowConverter",
    "Rows",
    "Skipped",
    "Source",
    "check_columns",
    "convert_files",
    "count_skip",
    "data_files",
    "fetch_rows",
    "hub_unreachable_reason",
    "is_blank",
    "offline_reason",
    "prepare",
    "read_rows",
    "resolve_columns",
    "row_converter",
    "row_keys",
    "unique_ids",
]
