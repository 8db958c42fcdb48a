"""Look at a file before reading it: format, encoding, delimiter and checksum.

Everything here fails early and whole: a file that is binary, compressed, undecodable in the encoding asked for,
or empty raises ``ImportFileError`` naming the file and the line, before a single row is parsed. Detection is
deliberately conservative: UTF-8 is assumed unless the bytes prove otherwise, and a fallback to cp1252/Latin-1 is
reported as a warning, because a wrong guess silently corrupts names like "Müller".
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from herald.errors import ImportFileError
from herald.importing.report import FileFormat
from herald.landing import sha256_of

PARQUET_MAGIC = b"PAR1"
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}
_SNIFF_BYTES = 1 << 16
_CHUNK_BYTES = 1 << 20
# Bytes cp1252 leaves undefined; a file containing them is read as Latin-1 instead.
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?): save it as CSV first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook: save it as CSV first"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"%PDF", "a PDF document, not a data file"),
)


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What an import needs to know about a file before parsing it; equal when every field is equal.

    ``encoding`` is the Python codec used to read a CSV (``utf-8-sig`` for UTF-8 with a byte-order mark);
    it and ``delimiter`` are None for Parquet.
    """

    path: Path
    file_format: FileFormat
    sha256: str
    size: int
    encoding: str | None
    delimiter: str | None
    warnings: tuple[str, ...] = ()


def inspect_file(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> FileInfo:
    """Detect format, encoding and delimiter and checksum the file. Eager: reads the whole file once or twice."""
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
        digest = sha256_of(path)
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImportFileError(f"{path}: the file is empty")
    if head.startswith(PARQUET_MAGIC):
        return FileInfo(path, "parquet", digest, size, None, None)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        raise ImportFileError(f"{path}: not a Parquet file (it does not start with the Parquet magic bytes)")
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise ImportFileError(f"{path}: the file is {what}")
    codec, warnings = _choose_encoding(path, head, encoding)
    sep = _choose_delimiter(path, codec, delimiter)
    return FileInfo(path, "csv", digest, size, codec, sep, tuple(warnings))


# -- encoding ----------------------------------------------------------------------------------------------------


def _choose_encoding(path: Path, head: bytes, requested: str | None) -> tuple[str, list[str]]:
    if requested is not None:
        codec = _lookup_codec(path, requested)
        if codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
        problem = _decode_problem(path, codec)
        if problem is not None:
            hint = "pass the right encoding, or none to detect it"
            raise ImportFileError(f"{path}: {problem} (read as {requested}); {hint}")
        return codec, []
    detected = _codec_from_bom(head) or _utf16_without_bom(head)
    if detected is not None:
        problem = _decode_problem(path, detected)
        if problem is not None:
            raise ImportFileError(f"{path}: {problem} (read as {detected})")
        return detected, []
    nul = head.find(b"\x00")
    if nul >= 0:
        line = _line_of_byte(head, nul)
        raise ImportFileError(f"{path}: contains NUL bytes (line {line}): it looks like a binary file, not CSV")
    problem = _decode_problem(path, "utf-8")
    if problem is None:
        return "utf-8", []
    if problem.is_nul:
        raise ImportFileError(f"{path}: {problem}: it looks like a binary file, not CSV")
    fallback = "latin-1" if _has_any(path, _CP1252_UNDEFINED) else "cp1252"
    second = _decode_problem(path, fallback)
    if second is not None:
        raise ImportFileError(f"{path}: {second} (read as {fallback} after UTF-8 failed)")
    return fallback, [f"the file is not valid UTF-8 ({problem}); read it as {fallback}"]


def _lookup_codec(path: Path, name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise ImportFileError(f"{path}: unknown encoding {name!r}") from None
    return {"iso8859-1": "latin-1"}.get(canonical, canonical)


def _codec_from_bom(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 4:
        return None
    half = len(sample) // 2
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    if odd_nuls > 0.4 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.4 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


@dataclass(frozen=True, slots=True)
class _DecodeProblem:
    """Why a file does not decode; equal when the message and kind are equal."""

    message: str
    is_nul: bool = False

    def __str__(self) -> str:
        return self.message


def _decode_problem(path: Path, codec: str) -> _DecodeProblem | None:
    """Decode the whole file as a stream; describe the first undecodable byte or NUL character, if any."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    lines_before = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK_BYTES)
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start : exc.start + 1]
                line = _first_undecodable_line(path, codec)
                where = f"line {line}" if line is not None else f"near line {lines_before + 1}"
                return _DecodeProblem(f"cannot be decoded: byte 0x{bad.hex()} on {where} is not valid {codec}")
            nul = text.find("\x00")
            if nul >= 0:
                line = lines_before + text.count("\n", 0, nul) + 1
                return _DecodeProblem(f"contains NUL bytes (line {line})", is_nul=True)
            lines_before += text.count("\n")
            if final:
                return None


def _first_undecodable_line(path: Path, codec: str) -> int | None:
    """The exact line of a decoding error, for encodings where a newline byte is always a newline."""
    if codecs.lookup(codec).name.startswith(("utf-16", "utf-32")):
        return None
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                raw.decode(codec)
            except UnicodeDecodeError:
                return number
    return None


def _has_any(path: Path, needles: tuple[bytes, ...]) -> bool:
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            if any(n in chunk for n in needles):
                return True
    return False


def _line_of_byte(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# -- delimiter ---------------------------------------------------------------------------------------------------


def normalize_delimiter(path: Path, delimiter: str) -> str:
    """Accept a one-character delimiter, or the words ``tab`` / ``\\t`` for a tab."""
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    sep = named.get(delimiter.lower(), delimiter)
    if len(sep) != 1 or sep in '"\r\n' or sep.isalnum():
        raise ImportFileError(f"{path}: {delimiter!r} cannot be a delimiter; use one character such as , ; | or tab")
    return sep


def _choose_delimiter(path: Path, codec: str, requested: str | None) -> str:
    if requested is not None:
        return normalize_delimiter(path, requested)
    with open(path, encoding=codec, newline="") as fh:
        sample = fh.read(_SNIFF_BYTES)
        complete = not fh.read(1)
    return separator_hint(sample) or sniff_delimiter(sample, complete=complete)


def separator_hint(text: str) -> str | None:
    """The delimiter named by Excel's ``sep=;`` first line, if the file starts with one."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if len(first) == 5 and first.lower().startswith("sep="):
        return first[4]
    return None


def sniff_delimiter(sample: str, *, complete: bool) -> str:
    """The candidate that splits the sample into the most consistent rows of more than one field.

    Each candidate parses the sample with real CSV quoting rules (so a ``;`` inside a quoted field does not
    count); the score is the share of rows with as many fields as the header, then the field count. A file of one
    column gets ``,``.
    """
    best: tuple[float, int] = (0.0, 1)
    choice = ","
    for candidate in DELIMITERS:
        counts = _field_counts(sample, candidate, complete=complete)
        if not counts or counts[0] < 2:
            continue
        consistency = sum(1 for c in counts if c == counts[0]) / len(counts)
        score = (consistency, counts[0])
        if score > best:
            best, choice = score, candidate
    return choice


def _field_counts(sample: str, delimiter: str, *, complete: bool) -> list[int]:
    counts: list[int] = []
    try:
        for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
            if row:
                counts.append(len(row))
            if len(counts) >= 200:
                return counts
    except csv.Error:
        pass
    if not complete and len(counts) > 1:
        counts.pop()  # the last record of a cut sample may be incomplete
    return counts
