"""The one record schema every dataset is converted into, and safe JSONL I/O.

A record covers the three input shapes of the paper's pointwise GRM (SPCT.md section 1):

- a single response with a 0/1 label (``responses`` has one entry, ``label`` is 0 or 1, ``best`` is None);
- a pair (two responses, ``best`` is the index of the preferred one);
- a list with a known best (n > 2 responses, ``best`` as for pairs).

``label`` follows Eq. 10's single-response rule: 1 means the response is correct / has no error, 0 means it is
wrong / has an error. Multi-turn conversations are rendered into ``prompt`` as text (``User: ...`` /
``Assistant: ...`` turns), so every judge prompt is built the same way.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPLITS = ("train", "eval")


class RecordError(ValueError):
    """A malformed record; the message names the file and line when they are known."""


@dataclass(frozen=True)
class Record:
    id: str
    source: str  # dataset family, e.g. "llmbar"
    subset: str  # finer name, e.g. "llmbar-adver-neighbor" (RewardBench names where one exists)
    split: str  # "train" or "eval"; fixed by the converter, never random at run time
    prompt: str
    responses: list[str]
    best: int | None = None  # index of the ground-truth best response (n >= 2)
    label: int | None = None  # 0/1 correctness of the single response (n == 1)
    reference: str | None = None  # reference answer, used by the "reference" prompt variant
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = validate_record_fields(self)
        if problems:
            raise RecordError(f"record {self.id!r}: " + "; ".join(problems))

    @property
    def n(self) -> int:
        return len(self.responses)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecordError(f"unknown field(s) {unknown}; expected a subset of {sorted(known)}")
        missing = sorted({"id", "source", "subset", "split", "prompt", "responses"} - set(data))
        if missing:
            raise RecordError(f"missing field(s) {missing}")
        return cls(**data)


def validate_record_fields(record: Record) -> list[str]:
    """Return the list of problems with a record (empty when it is valid)."""
    problems = []
    if not isinstance(record.id, str) or not record.id:
        problems.append("id must be a non-empty string")
    if record.split not in SPLITS:
        problems.append(f"split must be one of {SPLITS}, got {record.split!r}")
    if not isinstance(record.prompt, str) or not record.prompt.strip():
        problems.append("prompt must be a non-empty string")
    if not isinstance(record.responses, list) or not record.responses:
        problems.append("responses must be a non-empty list")
        return problems
    if not all(isinstance(r, str) for r in record.responses):
        problems.append("every response must be a string")
    n = len(record.responses)
    if n == 1:
        if record.label not in (0, 1):
            problems.append(f"a single-response record needs label 0 or 1, got {record.label!r}")
        if record.best is not None:
            problems.append("a single-response record must not set best")
    else:
        if not isinstance(record.best, int) or isinstance(record.best, bool) or not 0 <= record.best < n:
            problems.append(f"best must be an index in [0, {n}), got {record.best!r}")
    return problems


def read_records(path: str | os.PathLike) -> list[Record]:
    """Read a JSONL file of records; any bad line raises ``RecordError`` naming ``path:line``."""
    return list(iter_records(path))


def iter_records(path: str | os.PathLike) -> Iterator[Record]:
    with open(path, "rb") as f:
        for lineno, line in utf8_lines(f, lambda n: f"{path}:{n}", RecordError):
            if not line.strip():
                continue
            data = loads_strict(line, f"{path}:{lineno}", RecordError)
            try:
                yield Record.from_dict(data)
            except (RecordError, TypeError) as e:
                raise RecordError(f"{path}:{lineno}: {e}") from None


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a JSONL file (blank lines skipped); a bad line raises ``ValueError`` naming ``path:line``."""
    rows = []
    with open(path, "rb") as f:
        for lineno, line in utf8_lines(f, lambda n: f"{path}:{n}"):
            if line.strip():
                rows.append(loads_strict(line, f"{path}:{lineno}"))
    return rows


class JSONContentError(ValueError):
    """Text that is not the JSON we accept: a syntax error, a duplicate key, a lone surrogate, bytes that are not
    UTF-8. The message starts with where it is (file and line)."""


def utf8_lines(
    lines: Iterable[bytes], where: Callable[[int], str], error: type[ValueError] = JSONContentError
) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of binary lines, decoded as strict UTF-8 one line at a time, so a bad byte is reported
    on its own line (a text-mode file reports a buffer offset, with no line); ``where(n)`` names line n."""
    for lineno, raw in enumerate(lines, start=1):
        try:
            yield lineno, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            byte = f"byte 0x{raw[e.start]:02x} at column {e.start + 1}"
            raise error(f"{where(lineno)}: not UTF-8 text ({byte})") from None


def decode_utf8(data: bytes, where: str, error: type[ValueError] = JSONContentError) -> str:
    """A whole file's bytes as strict UTF-8; a bad byte raises ``error`` naming ``where`` and its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise error(f"{where}, line {line}: not UTF-8 text (byte 0x{data[e.start]:02x})") from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key, self.pos = key, None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # plain json keeps the last value silently
            raise _DuplicateKey(key)
        out[key] = value
    return out


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def loads_strict(text: str, where: str, error: type[ValueError] = JSONContentError) -> Any:
    """``json.loads`` that also refuses a key repeated in one object (json keeps the last silently) and a lone UTF-16
    surrogate (``"\\ud800"``: valid JSON, but no Unicode text, so it fails later when written as UTF-8). Errors are
    ``error`` naming ``where``; for a multi-line text also the line (``<where>, line N``)."""
    multiline = "\n" in text.strip()
    at = (lambda pos: f"{where}, line {text.count(chr(10), 0, pos) + 1}") if multiline else (lambda pos: where)
    try:
        value = json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as e:
        raise error(f"{at(e.pos)}: invalid JSON: {e.msg} (column {e.colno})") from None
    except _DuplicateKey as e:
        pos = _duplicate_key_position(text) if multiline else 0
        raise error(f"{at(pos)}: duplicate key {e.key!r} in one object (which value is meant?)") from None
    if "\\u" in text and _has_surrogate(value):
        raise error(f"{at(_lone_surrogate_position(text))}: a lone surrogate escape (\\ud800-\\udfff) is not text")
    return value


def _lone_surrogate_position(text: str) -> int:
    """Where the first surrogate escape that is not half of a high-low pair starts (0 if not found)."""
    matches = list(_SURROGATE_ESCAPE.finditer(text))
    i = 0
    while i < len(matches):
        high = matches[i].group()[3].lower() in "89ab"
        pair = high and i + 1 < len(matches) and matches[i + 1].start() == matches[i].end()
        if pair and matches[i + 1].group()[3].lower() in "cdef":
            i += 2
            continue
        return matches[i].start()
    return 0


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def _duplicate_key_position(text: str) -> int:
    """Where the object holding a repeated key starts, found by the pure-Python scanner (which, unlike the C one,
    lets us wrap the object parser); only run on the error path."""
    import json.decoder
    import json.scanner

    def parse_object(s_and_end, *args):
        try:
            return json.decoder.JSONObject(s_and_end, *args)
        except _DuplicateKey as e:
            e.pos = s_and_end[1] - 1 if e.pos is None else e.pos  # the innermost object sets it
            raise

    decoder = json.JSONDecoder(object_pairs_hook=_unique_pairs)
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        decoder.decode(text)
    except _DuplicateKey as e:
        return e.pos or 0
    return 0


def _write_atomic(path: str | os.PathLike, write: Callable[[Any], None]) -> None:
    """Call ``write(file)`` on a temporary file in the same folder, then rename it into place.

    A killed process leaves either the old file or the complete new one, never half a file. The temporary file is
    created with mode 0666 less the umask, like any ``open(path, "w")`` (``tempfile.mkstemp`` would give 0600, and
    the rename keeps that mode).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _create_temporary(path: Path) -> tuple[int, Path]:
    """A new, exclusively created file next to ``path`` (the kernel applies the umask to mode 0666)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary file name for {path.name}")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as JSONL atomically (see ``_write_atomic``)."""
    _write_atomic(path, lambda f: f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write one JSON document atomically (see ``_write_atomic``)."""
    _write_atomic(path, lambda f: f.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (see ``_write_atomic``)."""
    _write_atomic(path, lambda f: f.write(text))


def write_records(path: str | os.PathLike, records: Iterable[Record]) -> None:
    write_jsonl_atomic(path, (r.to_dict() for r in records))
