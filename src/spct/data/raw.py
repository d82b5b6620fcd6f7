"""Reading raw published files, with errors that say exactly where a bad item is.

Every converter reads its input through these readers and pulls fields out with ``RawRow.get``, so a missing
key, a wrong type or a bad label raises ``RawDataError`` naming the file, the line (JSONL, CSV) or the array
index (JSON) and the key, without each converter repeating that pattern.

The readers refuse what would otherwise be silently wrong: bytes that are not UTF-8, a lone surrogate escape and
a key repeated in one object (naming file, line and key), a truncated ``.gz`` file, and a file with no rows (a
published file is never empty: an empty one is a failed download, and would drop the whole source). A row that
repeats an earlier row of the same file exactly is dropped and counted as ``"<file>: duplicate line"`` (or
``duplicate item`` in a JSON array) in ``skipped``: it would weigh one item twice, and published sets do carry
exact repeats now and then, which should not stop a run. ``RawRow.index`` keeps each row's position with the
repeats counted, so ids derived from it do not shift when a repeat is dropped. ``keep_repeats=True`` keeps them:
a benchmark's published files are scored as upstream scores them (``spct.data.sources.read_rows``).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import zlib
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from spct.records import Record, RecordError, decode_utf8, loads_strict, utf8_lines

log = logging.getLogger(__name__)

T = TypeVar("T")
Skipped = Counter[str] | None


class RawDataError(RecordError):
    """A raw item that cannot be converted; the message starts with ``<file>, line N`` or ``<file>, index N``."""


@dataclass(frozen=True)
class RawRow:
    """One raw item (a JSON object or a CSV row) and where it came from."""

    data: Any
    where: str  # e.g. "data/raw/x.jsonl, line 3" or "data/raw/x.json, index 2"
    index: int | None = None  # position among the file's rows, dropped repeats included (readers set it)

    def fail(self, message: str, key: str | None = None) -> NoReturn:
        what = f"key {key!r}: " if key is not None else ""
        raise RawDataError(f"{self.where}: {what}{message}")

    def get(
        self,
        key: str,
        kind: type[T] | tuple[type, ...] = str,
        *,
        allowed: Collection[Any] | None = None,
        optional: bool = False,
    ) -> T:
        """Return ``data[key]``, checking that it exists, has type ``kind`` and (if given) is in ``allowed``.

        ``bool`` is never accepted where ``int`` is asked for: JSON ``true`` must not pass as label 1.
        With ``optional=True`` a missing key or a JSON null gives None instead of an error.
        """
        if not isinstance(self.data, Mapping):
            self.fail(f"expected an object with keys, got {type(self.data).__name__}")
        if key not in self.data or (optional and self.data[key] is None):
            if optional:
                return None  # type: ignore[return-value]
            self.fail("missing", key)
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fail(f"expected {names}, got {type(value).__name__} {_short(value)}", key)
        if allowed is not None and value not in allowed:
            self.fail(f"bad value {_short(value)}; expected one of {sorted(allowed, key=str)}", key)
        return value

    def get_list(self, key: str, item_kind: type[T], length: int | None = None) -> list[T]:
        """Return ``data[key]`` as a list whose items all have type ``item_kind`` (and the given length)."""
        values = self.get(key, list)
        for i, v in enumerate(values):
            if not isinstance(v, item_kind) or (isinstance(v, bool) and item_kind is not bool):
                self.fail(f"item {i} must be {item_kind.__name__}, got {type(v).__name__} {_short(v)}", key)
        if length is not None and len(values) != length:
            self.fail(f"expected {length} items, got {len(values)}", key)
        return values

    def record(self, **fields: Any) -> Record:
        """Build a ``Record``; a validation error (e.g. an empty prompt) is re-raised naming this item."""
        try:
            return Record(**fields)
        except RecordError as e:
            raise RawDataError(f"{self.where}: {e}") from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_json_array(path: Path, skipped: Skipped = None, keep_repeats: bool = False) -> list[RawRow]:
    """Rows of a JSON file holding one array; each row is located by its array index."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise RawDataError(f"{path}: expected a JSON array at the top level, got {type(data).__name__}")
    if not data:
        raise RawDataError(f"{path}: empty JSON array (no items)")
    rows = [RawRow(item, f"{path}, index {i}", i) for i, item in enumerate(data)]
    return rows if keep_repeats else drop_repeats(rows, path, "duplicate item", skipped)


def read_json_groups(path: Path, skipped: Skipped = None) -> dict[str, list[RawRow]]:
    """Rows of a JSON object of arrays (``{group: [items]}``); each row is located as ``[group][index]``."""
    data = _load_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise RawDataError(f"{path}: expected a JSON object whose values are arrays")
    if not any(data.values()):
        raise RawDataError(f"{path}: no items (every group is empty)")
    return {
        g: drop_repeats(
            [RawRow(item, f"{path}, index [{g!r}][{i}]", i) for i, item in enumerate(items)],
            path,
            "duplicate item",
            skipped,
        )
        for g, items in data.items()
    }


def _load_json(path: Path) -> Any:
    text = decode_utf8(Path(path).read_bytes(), str(path), RawDataError)
    if not text.strip():
        raise RawDataError(f"{path}: empty file (expected JSON)")
    return loads_strict(text, str(path), RawDataError)


def read_jsonl(
    path: Path, limit: int | None = None, skipped: Skipped = None, keep_repeats: bool = False
) -> list[RawRow]:
    """Rows of a JSONL file (gzip when the name ends in .gz), located by 1-based line number.

    Blank lines are skipped; ``limit`` keeps only the first ``limit`` rows (repeats dropped first).
    """
    rows: list[RawRow] = []
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            for lineno, line in utf8_lines(f, lambda n: f"{path}, line {n}", RawDataError):
                if line.strip():
                    where = f"{path}, line {lineno}"
                    rows.append(RawRow(loads_strict(line, where, RawDataError), where, len(rows)))
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        why = f"{type(e).__name__}: {e}"
        raise RawDataError(f"{path}: truncated or corrupt gzip file ({why}); download it again") from None
    if not rows:
        raise RawDataError(f"{path}: empty file (no JSON lines)")
    rows = rows if keep_repeats else drop_repeats(rows, path, "duplicate line", skipped)
    return rows if limit is None else rows[:limit]


def read_csv(path: Path, skipped: Skipped = None) -> list[RawRow]:
    """Rows of a CSV file with a header, located by the line where each row starts (fields may span lines)."""
    rows: list[RawRow] = []
    text = decode_utf8(Path(path).read_bytes(), str(path), RawDataError)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if reader.fieldnames is None:  # reads the header line
        raise RawDataError(f"{path}: empty CSV file, expected a header line")
    start = reader.line_num + 1
    for row in reader:
        if None in row or any(v is None for v in row.values()):
            raise RawDataError(f"{path}, line {start}: wrong number of fields")
        rows.append(RawRow(row, f"{path}, line {start}", len(rows)))
        start = reader.line_num + 1
    if not rows:
        raise RawDataError(f"{path}: no rows after the header line")
    return drop_repeats(rows, path, "duplicate line", skipped)


def drop_repeats(rows: list[RawRow], path: Path, reason: str, skipped: Skipped) -> list[RawRow]:
    """``rows`` without those equal to an earlier row; each drop is counted as ``"<path>: <reason>"`` and logged
    with both places."""
    first: dict[str, str] = {}
    kept = []
    for row in rows:
        key = json.dumps(row.data, sort_keys=True, ensure_ascii=False)
        if key in first:
            if skipped is not None:
                skipped[f"{path}: {reason}"] += 1
            log.warning("%s repeats %s exactly: dropped (%s)", row.where, first[key], reason)
            continue
        first[key] = row.where
        kept.append(row)
    return kept
