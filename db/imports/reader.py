"""Reading uploaded files: CSV in UTF-8, UTF-8 with BOM or GB18030, and XLSX.

Files are streamed row by row (a 50 MB export is never held in memory). `inspect()` reads
the whole file once before anything is written: it finds the encoding, checks every byte
decodes, and counts the rows, so a file that cannot be read fails before the first batch.
An XLSX is a zip: its members and unpacked size are checked before python-calamine opens it
(its XML parser expands no entities).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 256 * 1024
MAX_XLSX_MEMBERS = 2_000
MAX_XLSX_UNPACKED = 1_000_000_000  # 1 GB of XML: far above any real shop export
MAX_XLSX_RATIO = 200  # a member that unpacks more than 200x is a zip bomb
MAX_COLUMNS = 200
MAX_CELL = 10_000

csv.field_size_limit(1_000_000)


class UnreadableFile(ValueError):
    """The file cannot be imported at all; the message says why, in plain English."""


@dataclass(frozen=True)
class FileInfo:
    file_format: str  # "csv" | "xlsx"
    encoding: str  # "utf-8-sig" | "utf-8" | "gb18030" | "" for xlsx
    headers: list[str]
    total_rows: int  # data rows, the header not counted, empty rows skipped


def detect_format(path: Path, filename: str = "") -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile("this is an old Excel .xls file: save it as .xlsx or CSV and try again")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise UnreadableFile("this .xlsx file is damaged or not really an Excel file")
    return "csv"


def detect_encoding(path: Path) -> str:
    """utf-8-sig, utf-8 or gb18030, from the start of the file; anything else is refused."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if not sample.strip():
        raise UnreadableFile("the file is empty")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in sample:
        raise UnreadableFile(
            "the file is in UTF-16 or is not a text file: save it as CSV UTF-8 or as .xlsx"
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("the file's text encoding is not UTF-8 or GB18030: save it as CSV UTF-8")


def _csv_rows(path: Path, encoding: str) -> Iterator[list[str]]:
    with open(path, encoding=encoding, errors="strict", newline="") as fh:
        try:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                if len(row) > MAX_COLUMNS:
                    raise UnreadableFile(f"line {line_no} has more than {MAX_COLUMNS} columns")
                yield row
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"the file is not valid {encoding.upper().replace('-SIG', '')} text further on "
                "(a mix of encodings?): save it again as CSV UTF-8"
            ) from exc
        except csv.Error as exc:
            raise UnreadableFile(f"the CSV file is malformed: {exc}") from exc


def check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_XLSX_MEMBERS:
                raise UnreadableFile("the .xlsx file holds too many parts to be a spreadsheet")
            unpacked = 0
            for info in members:
                unpacked += info.file_size
                if info.compress_size and info.file_size / info.compress_size > MAX_XLSX_RATIO \
                        and info.file_size > 10_000_000:
                    raise UnreadableFile("the .xlsx file unpacks to far more than it holds (a zip bomb?)")
            if unpacked > MAX_XLSX_UNPACKED:
                raise UnreadableFile("the .xlsx file unpacks to more than 1 GB")
            names = {info.filename for info in members}
            if "[Content_Types].xml" not in names:
                raise UnreadableFile("this .xlsx file is damaged or not really an Excel file")
    except zipfile.BadZipFile as exc:
        raise UnreadableFile("this .xlsx file is damaged or not really an Excel file") from exc


def _xlsx_rows(path: Path, dimension: list | None = None) -> Iterator[list]:
    """The first sheet's rows; `dimension`, when given, receives the sheet's row count before
    the first row is read.

    python-calamine (Rust) reads the sheet about twenty times faster than openpyxl, whose
    cell parsing alone took over a minute for 100,000 order rows. A formula cell gives the
    value Excel saved with it (what the shop sees in the sheet), never its formula, and it is
    never evaluated. Whole numbers come back as floats and are made ints again, so a mobile
    stays 13812345678, not 13812345678.0."""
    from python_calamine import CalamineWorkbook

    check_zip(path)
    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0) if book.sheet_names else None
    except Exception as exc:  # calamine raises one error type per format problem
        raise UnreadableFile("this .xlsx file is damaged or not really an Excel file") from exc
    if sheet is None:
        return
    if dimension is not None:
        dimension.append(sheet.height)
    for row in sheet.iter_rows():
        if len(row) > MAX_COLUMNS:
            row = row[:MAX_COLUMNS]
        yield [_cell(value) for value in row]


def _cell(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if value == "":
        return None  # an empty cell, as openpyxl gave it
    return value


def _is_blank(row: list) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in row)


def iter_rows(path: Path, file_format: str, encoding: str) -> Iterator[list]:
    """The data rows (header skipped, blank rows skipped), each a list of cell values:
    text for CSV; text, numbers or datetimes for XLSX. Formulas come back as their text."""
    rows = _xlsx_rows(path) if file_format == "xlsx" else _csv_rows(path, encoding)
    header_seen = False
    for row in rows:
        if _is_blank(row):
            continue
        if not header_seen:
            header_seen = True
            continue
        yield [cell[:MAX_CELL] if isinstance(cell, str) else cell for cell in row]


def _headers(row: list) -> list[str]:
    headers, seen = [], set()
    for i, cell in enumerate(row):
        text = "" if cell is None else str(cell).strip().lstrip("\ufeff")
        text = text or f"column {i + 1}"
        while text in seen:
            text += " (2)"
        seen.add(text)
        headers.append(text[:100])
    return headers


def inspect(path: Path, filename: str = "") -> FileInfo:
    """Format, encoding, headers and row count. A CSV is read whole once (streamed), so a
    decoding error anywhere is found before anything is written. An XLSX is parsed only as
    far as its first data row: the row count is the one the sheet declares (parsing 100,000
    rows twice would double the work, and the zip was checked on opening);
    without a declared size the sheet is counted row by row."""
    file_format = detect_format(path, filename)
    encoding = "" if file_format == "xlsx" else detect_encoding(path)
    dimension: list = []
    rows = _xlsx_rows(path, dimension) if file_format == "xlsx" else _csv_rows(path, encoding)
    headers: list[str] | None = None
    total = 0
    for row in rows:
        if _is_blank(row):
            continue
        if headers is None:
            headers = _headers(row)
            continue
        total += 1
        if file_format == "xlsx" and dimension and dimension[0]:
            total = max(1, dimension[0] - 1)  # the header row is not counted
            rows.close()
            break
    if headers is None:
        raise UnreadableFile("the file is empty")
    return FileInfo(file_format, encoding, headers, total)
