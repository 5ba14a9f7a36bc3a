"""Landing objects (gzip NDJSON) -> Arrow tables with the raw event columns.

Why not DuckDB's JSON reader: a typed `read_json` coerces a wrong JSON type
(`"site": {"a": 1}` becomes the string '{"a":1}', `"is_bot": "yes"` becomes true), and
extracting every column as JSON to check its type first costs twice the read.
pyarrow's reader with an explicit schema never coerces: it raises.  So a piece of
objects is read in one strict pass; a piece that raises is read again object by object,
and an object that raises line by line with orjson, where a line that is not a JSON
object, or a field of the wrong JSON type, reads as NULL (what Athena's JSON SerDe with
`ignore.malformed.json` does with a broken line): the schema_valid check then counts it
as malformed, and the pipeline drops it.

A damaged gzip object is inflated up to the damage and its complete lines are kept;
an object with nothing usable is skipped.  Both are reported by name.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from orchestration.tables import PARTITION_COLUMN, RAW_EVENT_COLUMNS

try:  # ISA-L's inflate: ~3x zlib's speed, same result
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency; plain gzip still works
    import gzip as _gzip

PATH_COLUMN = "object_path"  # the object a row came from (the view's name for Athena's "$path")
ARROW_TYPES = {"int": pa.int32(), "bigint": pa.int64(), "string": pa.string(),
               "boolean": pa.bool_()}
EVENT_SCHEMA = pa.schema([(n, ARROW_TYPES[t]) for n, t in RAW_EVENT_COLUMNS])
# `dt` and `object_path` repeat a few values: dictionary-encoded, as Parquet stores them anyway
_NAMES = pa.dictionary(pa.int32(), pa.string())
STAGED_SCHEMA = EVENT_SCHEMA.append(pa.field(PARTITION_COLUMN, _NAMES)).append(
    pa.field(PATH_COLUMN, _NAMES))
# One strict pass reads this many compressed bytes of objects (~40 MB of JSON): big
# enough that per-call overhead vanishes, small enough that pieces spread over threads.
PIECE_BYTES = 4 * 1024 * 1024
_PARSE = pa_json.ParseOptions(explicit_schema=EVENT_SCHEMA, unexpected_field_behavior="ignore")
_READ = pa_json.ReadOptions(use_threads=False, block_size=4 * 1024 * 1024)
_INT_RANGES = {"int": (-(2**31), 2**31), "bigint": (-(2**63), 2**63)}


@dataclass
class Piece:
    """The rows of some objects of one landing folder, and the objects found damaged."""

    table: pa.Table
    truncated: list[Path] = field(default_factory=list)  # salvaged up to the damage
    unreadable: list[Path] = field(default_factory=list)  # nothing usable


def pieces(files: list[Path], size: int = PIECE_BYTES) -> Iterator[list[Path]]:
    """Consecutive runs of `files` of about `size` compressed bytes each."""
    run: list[Path] = []
    total = 0
    for f in files:
        run.append(f)
        total += f.stat().st_size
        if total >= size:
            yield run
            run, total = [], 0
    if run:
        yield run


def salvage(data: bytes) -> bytes:
    """The complete lines of a damaged gzip object, inflated up to the damage.

    Further gzip members are followed; the partial last line is dropped (it would be
    one malformed row)."""
    kept = bytearray()
    rest = data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            kept += d.decompress(rest)
        except zlib.error:
            break
        if not d.eof:
            break
        rest = d.unused_data
    cut = kept.rfind(b"\n")
    return bytes(kept[: cut + 1]) if cut >= 0 else b""


def inflate(path: Path) -> tuple[bytes, str]:
    """An object's NDJSON text ending in a newline, and `ok`, `truncated` or `unreadable`."""
    return inflate_bytes(path.read_bytes())


def inflate_bytes(raw: bytes) -> tuple[bytes, str]:
    """`inflate` of an object's bytes (the S3 backends repair objects with it)."""
    if not raw:  # not even a gzip header (Python's inflate reads b"" as empty text)
        return b"", "unreadable"
    try:
        text, state = _gzip.decompress(raw), "ok"
    except (OSError, EOFError, zlib.error, ValueError):
        text = salvage(raw)
        state = "truncated" if text else "unreadable"
    if b"\r" in text:  # a line ends at LF, CR or CR LF, as Hadoop's text reader (Athena,
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # Trino) splits them
    if text and not text.endswith(b"\n"):
        text += b"\n"
    return text, state


def parse_strict(text: bytes) -> pa.Table | None:
    """Every line as one row, or None when any line is not a well-typed event object
    (or is blank, which would shift rows away from their objects)."""
    try:
        table = pa_json.read_json(io.BytesIO(text), read_options=_READ, parse_options=_PARSE)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return table if table.num_rows == text.count(b"\n") else None


def _typed(kind: str):
    if kind == "string":
        return lambda v: v if type(v) is str else None
    if kind == "boolean":
        return lambda v: v if type(v) is bool else None
    low, high = _INT_RANGES[kind]
    return lambda v: v if type(v) is int and low <= v < high else None


_COLUMN_VALUES = [(n, _typed(t)) for n, t in RAW_EVENT_COLUMNS]


def parse_tolerant(text: bytes) -> pa.Table:
    """One row per non-blank line; a broken line or a wrongly typed field is NULL."""
    rows: list[dict] = []
    for line in text.split(b"\n"):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
        rows.append(obj if type(obj) is dict else {})
    columns = [pa.array([typed(r.get(n)) for r in rows], type=EVENT_SCHEMA.field(n).type)
               for n, typed in _COLUMN_VALUES]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def _repeated(values: list[str], counts: list[int]) -> pa.Array:
    """values[0] counts[0] times, then values[1] counts[1] times, ..."""
    index = pa.array(np.repeat(np.arange(len(counts), dtype=np.int32), counts))
    return pa.DictionaryArray.from_arrays(index, pa.array(values, pa.string()))


def _with_origin(table: pa.Table, day: str, files: list[Path], counts: list[int]) -> pa.Table:
    """The table plus `dt` (the folder's day) and `object_path` (each row's object)."""
    return (table.append_column(PARTITION_COLUMN, _repeated([day], [table.num_rows]))
            .append_column(PATH_COLUMN, _repeated([str(f) for f in files], counts)))


def read_piece(day: str, files: list[Path]) -> Piece:
    """The rows of `files` (objects of landing folder `day`), strictly typed."""
    piece = Piece(table=EVENT_SCHEMA.empty_table())
    texts: list[bytes] = []
    kept: list[Path] = []
    for f in files:
        text, state = inflate(f)
        if state == "unreadable":
            piece.unreadable.append(f)
            continue
        if state == "truncated":
            piece.truncated.append(f)
        texts.append(text)
        kept.append(f)
    table = parse_strict(b"".join(texts)) if texts else EVENT_SCHEMA.empty_table()
    if table is not None:
        counts = [t.count(b"\n") for t in texts]
    else:  # some object is not clean: find it, keep the others' fast path
        tables = []
        for text in texts:
            one = parse_strict(text)
            tables.append(one if one is not None else parse_tolerant(text))
        table = pa.concat_tables(tables)
        counts = [t.num_rows for t in tables]
    piece.table = _with_origin(table, day, kept, counts)
    return piece
