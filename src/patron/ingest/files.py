"""Readers for batch files: CSV/TSV, Parquet, JSON and JSON lines, Excel.

Each reader exposes a file to DuckDB as a relation with the source columns, ``_row`` (the
1-based row number in the file) and ``_reader_error`` (why a row could not be parsed, or
null). Nothing is loaded whole into memory: CSV, Parquet and JSON are scanned by DuckDB;
Excel is streamed row by row through openpyxl into a temporary Parquet file.

CSV rows with the wrong number of fields or bad bytes are not dropped: DuckDB's reject
tables report them and :func:`csv_rejects` turns them into quarantine rows.
"""

from __future__ import annotations

import codecs
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from patron.errors import SourceError
from patron.ingest.validate import quote_ident, quote_literal

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUPPORTED = CSV_SUFFIXES + PARQUET_SUFFIXES + JSON_SUFFIXES + EXCEL_SUFFIXES

#: encodings DuckDB's CSV reader decodes itself; others are transcoded to UTF-8 first
_DUCKDB_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "utf-16": "utf-16",
}


@dataclass
class SourceRelation:
    """A file opened as a DuckDB relation, and how to clean up after it."""

    path: Path
    format: str
    relation: str
    columns: list[str]
    types: dict[str, str]
    header_lines: int = 0
    rejects_table: str | None = None
    #: for CSV: the path DuckDB reads (maybe transcoded) and its read_csv options
    csv_read_path: Path | None = None
    csv_options: list[str] = field(default_factory=list)
    #: values the reader itself reads as NULL (CSV after :func:`retype_csv`)
    null_strings: tuple[str, ...] = ()
    _cleanup: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for fn in self._cleanup:
            fn()
        self._cleanup.clear()


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for fmt, suffixes in (
        ("csv", CSV_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
        ("json", JSON_SUFFIXES),
        ("excel", EXCEL_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return fmt
    if name.endswith(".xls"):
        raise SourceError(
            f"{path}: the old binary Excel format (.xls) is not supported",
            hint="save it as .xlsx or .csv from Excel",
        )
    raise SourceError(
        f"{path}: unknown file type {path.suffix or '(no extension)'!r}; "
        f"expected one of {', '.join(SUPPORTED)}",
        hint="rename the file with its real extension",
    )


def open_source(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
    quote: str | None = None,
    header: bool = True,
    sheet: str | None = None,
) -> SourceRelation:
    """Open a file of any supported format as a relation in ``con``."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = detect_format(path)
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty; expected a header and rows")
    if fmt == "csv":
        return _open_csv(con, path, encoding, delimiter, quote, header)
    if fmt == "parquet":
        return _describe(con, path, "parquet", f"read_parquet({quote_literal(str(path))})")
    if fmt == "json":
        return _open_json(con, path)
    return _open_excel(con, path, sheet)


def _describe(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    scan: str,
    *,
    header_lines: int = 0,
    rejects: str | None = None,
) -> SourceRelation:
    try:
        described = con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"{path}: cannot be read as {fmt}: {_first_line(exc)}") from None
    types = {row[0]: row[1] for row in described}
    # ordinality numbers the rows; it is not a source column
    relation = (
        f"(SELECT * EXCLUDE (ordinality), CAST(ordinality AS BIGINT) + {header_lines} AS _row, "
        f"CAST(NULL AS VARCHAR) AS _reader_error FROM {scan} WITH ORDINALITY)"
    )
    return SourceRelation(path, fmt, relation, list(types), types, header_lines, rejects)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- CSV -------------------------------------------------------------------------------


def _open_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    encoding: str,
    delimiter: str | None,
    quote: str | None,
    header: bool,
) -> SourceRelation:
    cleanup: list[Callable[[], None]] = []
    encoding = (encoding or "utf-8").lower()
    if encoding == "auto":
        encoding = detect_encoding(path)
    read_path = path
    duck_encoding = _DUCKDB_ENCODINGS.get(encoding)
    if duck_encoding is None:
        read_path, done = _transcode_to_utf8(path, encoding)
        cleanup.append(done)
        duck_encoding = "utf-8"
    options = [
        "all_varchar = true",
        f"header = {'true' if header else 'false'}",
        "store_rejects = true",
        "rejects_table = '_patron_rejects'",
        "rejects_scan = '_patron_reject_scans'",
        f"encoding = {quote_literal(duck_encoding)}",
        "max_line_size = 16777216",
    ]
    if delimiter:
        options.append(f"delim = {quote_literal(delimiter)}")
    if quote is not None:
        options.append(f"quote = {quote_literal(quote)}")
    scan = f"read_csv({quote_literal(str(read_path))}, {', '.join(options)})"
    rel = _describe(
        con, path, "csv", scan, header_lines=1 if header else 0, rejects="_patron_rejects"
    )
    rel._cleanup.extend(cleanup)
    rel.csv_read_path = read_path
    rel.csv_options = options
    if len(rel.columns) == 1 and delimiter is None and _looks_delimited(path, duck_encoding):
        log.info("%s: one column found; the delimiter may need to be set", path)
    return rel


def retype_csv(
    con: duckdb.DuckDBPyConnection,
    source: SourceRelation,
    types: dict[str, str],
    null_strings: tuple[str, ...],
) -> SourceRelation:
    """Let DuckDB's CSV reader parse the given columns natively (much faster than casting
    text afterwards). A value it cannot parse becomes a rejected line with the column named,
    which :func:`csv_rejects` quarantines; ``null_strings`` are read as missing."""
    types = {k: v for k, v in types.items() if k in source.columns}
    if source.format != "csv" or source.csv_read_path is None:
        return source
    spellings = sorted({v for t in null_strings for v in (t, t.upper(), t.lower(), t.title())})
    options = [*source.csv_options, "nullstr = [" + ", ".join(map(quote_literal, spellings)) + "]"]
    if types:
        options.append(
            "types = {" + ", ".join(f"{quote_literal(k)}: '{v}'" for k, v in types.items()) + "}"
        )
    scan = f"read_csv({quote_literal(str(source.csv_read_path))}, {', '.join(options)})"
    rel = _describe(
        con,
        source.path,
        "csv",
        scan,
        header_lines=source.header_lines,
        rejects=source.rejects_table,
    )
    rel._cleanup = source._cleanup
    rel.csv_read_path, rel.csv_options = source.csv_read_path, options
    rel.null_strings = null_strings
    return rel


def _looks_delimited(path: Path, encoding: str) -> bool:
    with open(path, encoding=encoding, errors="replace") as fh:
        first = fh.readline()
    return any(sep in first for sep in (";", "|", "\t"))


def detect_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """Guess a file's encoding from its first MiB (charset-normalizer)."""
    from charset_normalizer import from_bytes

    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        if exc.start >= len(sample) - 4:
            return "utf-8"
    best = from_bytes(sample).best()
    return best.encoding.replace("_", "-") if best is not None else "latin-1"


def _transcode_to_utf8(path: Path, encoding: str) -> tuple[Path, Callable[[], None]]:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SourceError(
            f"{path}: unknown encoding {encoding!r}",
            hint="use a Python codec name such as utf-8, latin-1, cp1252, utf-16",
        ) from None
    tmpdir = Path(tempfile.mkdtemp(prefix="patron-transcode-"))
    target = tmpdir / (path.stem + ".utf8.csv")
    try:
        with (
            open(path, encoding=encoding, newline="") as src,
            open(target, "w", encoding="utf-8", newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, 4 << 20)
    except UnicodeDecodeError as exc:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise SourceError(
            f"{path}: byte {exc.start} is not valid {encoding} ({exc.reason})",
            hint='check the file\'s encoding (--encoding, or encoding = "auto")',
        ) from None
    return target, lambda: shutil.rmtree(tmpdir, ignore_errors=True)


_CAST_VALUE = re.compile(r'Could not convert string "(.*)" to')


def csv_rejects(
    con: duckdb.DuckDBPyConnection,
    source: SourceRelation,
    declared_encoding: str,
    canonical_of: dict[str, tuple[str, str]] | None = None,
) -> list[tuple[int, str, str, str]]:
    """Rows DuckDB could not split into fields: (line, rule, reason, raw line).

    Raises :class:`SourceError` when the file is not in the declared encoding, since then
    every row is suspect and the fix is to say the right encoding, not to quarantine.
    """
    if source.rejects_table is None:
        return []
    try:
        rows = con.sql(
            "SELECT line, error_type, error_message, csv_line, column_name "
            f"FROM {source.rejects_table} ORDER BY line"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    out = []
    seen: set[int] = set()
    canonical_of = canonical_of or {}
    split = _line_splitter(con, source)
    for line, error_type, message, csv_line, column in rows:
        if line in seen:  # DuckDB may report several errors for one line
            continue
        seen.add(line)
        if error_type == "INVALID ENCODING":
            guess = detect_encoding(source.path)
            raise SourceError(
                f"{source.path}: line {line} is not valid {declared_encoding}"
                + (f"; the file looks like {guess}" if guess != declared_encoding else ""),
                hint=f'ingest it with --encoding {guess} (or encoding = "auto" in patron.toml)',
            )
        original = split(csv_line or "")
        if error_type == "CAST" and column in canonical_of:
            name, expected = canonical_of[column]
            match = _CAST_VALUE.search(message or "")
            value = match.group(1) if match else "?"
            out.append(
                (int(line), f"{name}:type", f"{name}: '{value}' is not {expected}", original)
            )
            continue
        code = str(error_type).lower().replace(" ", "_")
        out.append((int(line), f"csv:{code}", f"line {line}: {message}", original))
    return out


def _line_splitter(con: duckdb.DuckDBPyConnection, source: SourceRelation):
    """A function turning a rejected CSV line into its original values as JSON: an object
    keyed by column where the line has the right number of fields, else ``{"line": …}``."""
    import csv
    import json

    delimiter, quote = ",", '"'
    try:
        scan = con.sql("SELECT delimiter, quote FROM _patron_reject_scans LIMIT 1").fetchone()
        if scan:
            delimiter = scan[0] or ","
            quote = scan[1] if scan[1] and scan[1] != "(empty)" else '"'
    except duckdb.Error:
        pass

    def split(line: str) -> str:
        try:
            fields = next(csv.reader([line], delimiter=delimiter[0], quotechar=quote[0]))
        except (csv.Error, StopIteration):
            fields = []
        if len(fields) == len(source.columns):
            return json.dumps(dict(zip(source.columns, fields, strict=True)))
        return json.dumps({"line": line})

    return split


# -- JSON ------------------------------------------------------------------------------


def _open_json(con: duckdb.DuckDBPyConnection, path: Path) -> SourceRelation:
    lines = _is_json_lines(path)
    if not lines:
        scan = f"read_json({quote_literal(str(path))}, format = 'array', sample_size = -1)"
        try:
            keys = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
        except duckdb.Error as exc:
            raise SourceError(
                f"{path}: not a valid JSON array of objects: {_first_line(exc)}"
            ) from None
        columns = "{" + ", ".join(f"{quote_literal(k)}: 'VARCHAR'" for k in keys) + "}"
        typed = f"read_json({quote_literal(str(path))}, format = 'array', columns = {columns})"
        return _describe(con, path, "json", typed)
    # JSON lines: read each line as text so a malformed line is quarantined, not lost
    text = (
        f"read_csv({quote_literal(str(path))}, columns = {{'_line': 'VARCHAR'}}, "
        "header = false, delim = '\\x1f', quote = '', escape = '', "
        "max_line_size = 16777216, strict_mode = false)"
    )
    numbered = (
        f"(SELECT _line, CAST(ordinality AS BIGINT) AS _row FROM {text} WITH ORDINALITY "
        "WHERE trim(_line) <> '' OR _line IS NULL)"
    )
    try:
        keys = [
            r[0]
            for r in con.sql(
                f"SELECT DISTINCT unnest(json_keys(_line)) AS k FROM {numbered} "
                "WHERE json_valid(_line) ORDER BY k"
            ).fetchall()
        ]
    except duckdb.Error as exc:
        raise SourceError(f"{path}: cannot be read as JSON lines: {_first_line(exc)}") from None
    if not keys:
        raise SourceError(f"{path}: no JSON objects found; expected one object per line")
    fields = ", ".join(
        f"CASE WHEN json_type(_doc, {_json_path(k)}) IN ('OBJECT', 'ARRAY') "
        f"THEN json_extract(_doc, {_json_path(k)})::VARCHAR "
        f"ELSE json_extract_string(_doc, {_json_path(k)}) END AS {quote_ident(k)}"
        for k in keys
    )
    # malformed lines get a null document, so extraction yields nulls instead of errors
    documents = (
        f"(SELECT _line, _row, CASE WHEN json_valid(_line) THEN _line END AS _doc FROM {numbered})"
    )
    relation = (
        f"(SELECT {fields}, _row, CASE WHEN _doc IS NULL "
        f"THEN 'line ' || _row || ': malformed JSON' "
        f"WHEN json_type(_doc) <> 'OBJECT' THEN 'line ' || _row || ': not a JSON object' "
        f"END AS _reader_error FROM {documents})"
    )
    return SourceRelation(path, "json", relation, keys, dict.fromkeys(keys, "VARCHAR"))


def _json_path(key: str) -> str:
    """A JSON path literal selecting one top-level key, quoted for any key text."""
    return quote_literal('$."' + key.replace('"', '\\"') + '"')


def _is_json_lines(path: Path) -> bool:
    opener = open
    if path.name.lower().endswith(".gz"):
        import gzip

        opener = gzip.open  # type: ignore[assignment]
    with opener(path, "rb") as fh:
        head = fh.read(4096).lstrip()
    return not head.startswith(b"[")


# -- Excel -----------------------------------------------------------------------------


def _open_excel(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> SourceRelation:
    """Stream a worksheet into a temporary all-text Parquet file (openpyxl, read-only)."""
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SourceError(f"{path}: not a readable Excel workbook: {_first_line(exc)}") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise SourceError(
                f"{path}: no worksheet {sheet!r}; the workbook has {', '.join(book.sheetnames)}"
            )
        ws = book[sheet] if sheet else book.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise SourceError(f"{path}: the worksheet {ws.title!r} is empty")
        names = _unique_names([str(h) if h is not None else "" for h in header])
        tmpdir = Path(tempfile.mkdtemp(prefix="patron-excel-"))
        target = tmpdir / "sheet.parquet"
        schema = pa.schema([pa.field(n, pa.string()) for n in names])
        with pq.ParquetWriter(target, schema) as writer:
            batch: list[tuple] = []
            for row in rows:
                batch.append(tuple(_cell_text(v) for v in row[: len(names)]))
                if len(batch) >= 50_000:
                    writer.write_table(_rows_to_table(batch, names, schema))
                    batch = []
            writer.write_table(_rows_to_table(batch, names, schema))
    finally:
        book.close()
    rel = _describe(
        con, path, "excel", f"read_parquet({quote_literal(str(target))})", header_lines=1
    )
    rel._cleanup.append(lambda: shutil.rmtree(tmpdir, ignore_errors=True))
    return rel


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows_to_table(batch: list[tuple], names: list[str], schema):
    import pyarrow as pa

    columns = [[row[i] if i < len(row) else None for row in batch] for i in range(len(names))]
    return pa.table(columns, schema=schema)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name.strip() or f"column{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out
