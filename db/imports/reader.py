"""Reading uploaded files: CSV in UTF-8, UTF-8 with BOM or GB18030, and XLSX.

Files are streamed row by row, CSV and XLSX alike, so memory stays bounded whatever the
file's size. `inspect()` runs before anything is written: for a CSV it reads the whole file
once (encoding, every byte decodes, the row count), so a file that cannot be read fails
before the first batch; for an XLSX it reads the header and the first rows only. Both keep
the first PREVIEW_ROWS data rows (`FileInfo.sample`): the mapping page and the preview use
those, never the file, and the background run streams the file once.

An XLSX is a zip: its members, its unpacked size and each sheet's unpacked size are checked
before the sheet is opened (db/imports/xlsx.py parses the sheet's XML as a stream, with
defusedxml, which refuses entity tricks). python-calamine is not used: it loads a whole sheet
into a dense grid first, so an 873 MB sheet took 1.5 GB and a 1.5 KB file with one cell at
CV1000000 took 3 GB.

Messages are plain English `Message`s; the web layer translates them (web/core/i18n.py).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from db.errors import Message
from db.imports import xlsx

SAMPLE_BYTES = 256 * 1024
MAX_XLSX_MEMBERS = 2_000
MAX_XLSX_UNPACKED = 1_000_000_000  # 1 GB of XML: far above any real shop export
MAX_XLSX_RATIO = 200  # a member that unpacks more than 200x is a zip bomb
MAX_SHEET_BYTES = 500 * 1024 * 1024  # one sheet's XML, unpacked: about 1.5 million 7-column rows
MAX_SHARED_TEXT_BYTES = 100 * 1024 * 1024  # sharedStrings.xml, unpacked (it is held in memory)
MAX_SHEET_ROWS = 1_000_000  # data rows of a sheet (rows beyond Excel's 1,048,576 cannot exist)
MAX_COLUMNS = 200
MAX_CELL = 10_000
EXCEL_ROWS = 1_048_576
PREVIEW_ROWS = 20  # data rows kept at upload for the mapping page and the preview
SAMPLE_CELL = 2_001  # characters of a cell kept for the preview

csv.field_size_limit(1_000_000)


class UnreadableFile(ValueError):
    """The file cannot be imported at all; the message (a `Message`) says why, in plain English."""

    def __init__(self, message: str, **values):
        self.message = Message(message, **values)
        super().__init__(self.message)

    def __str__(self) -> str:
        return str(self.message)


SHEET_TOO_BIG = (f"the sheet unpacks to more than {MAX_SHEET_BYTES // (1024 * 1024)} MB: "
                 "split it into smaller files")
SHARED_TEXT_TOO_BIG = (f"the sheet's text unpacks to more than {MAX_SHARED_TEXT_BYTES // (1024 * 1024)} MB: "
                       "split it into smaller files")
TOO_MANY_ROWS = f"the sheet has more than {MAX_SHEET_ROWS:,} rows: split it into smaller files"


@dataclass(frozen=True)
class FileInfo:
    file_format: str  # "csv" | "xlsx"
    encoding: str  # "utf-8-sig" | "utf-8" | "gb18030" | "" for xlsx
    headers: list[str]
    total_rows: int  # data rows, the header not counted, empty rows skipped
    sample: list[list] = field(default_factory=list)  # the first PREVIEW_ROWS data rows


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
        rows = csv.reader(fh)
        try:
            for row in rows:
                if len(row) > MAX_COLUMNS:
                    raise UnreadableFile("line %(line)s has more than %(max)s columns",
                                         line=f"{rows.line_num:,}", max=MAX_COLUMNS)
                yield row
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                f"the file is not valid {encoding.upper().replace('-SIG', '')} text further on "
                "(a mix of encodings?): save it again as CSV UTF-8"
            ) from exc
        except csv.Error as exc:  # csv's own words are English only: say where instead
            raise UnreadableFile(
                "the CSV file is malformed near line %(line)s: save it again from Excel as CSV UTF-8",
                line=f"{rows.line_num:,}",
            ) from exc


def check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_XLSX_MEMBERS:
                raise UnreadableFile("the .xlsx file holds too many parts to be a spreadsheet")
            unpacked = 0
            for info in members:
                unpacked += info.file_size
                name = info.filename.lower()
                if name.startswith("xl/worksheets/") and info.file_size > MAX_SHEET_BYTES:
                    raise UnreadableFile(SHEET_TOO_BIG)
                if name == "xl/sharedstrings.xml" and info.file_size > MAX_SHARED_TEXT_BYTES:
                    raise UnreadableFile(SHARED_TEXT_TOO_BIG)
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
    """The first sheet's rows, streamed (db/imports/xlsx.py: the sheet's XML is parsed as it
    is read, so memory does not grow with the sheet); `dimension`, when given, receives the
    row count the sheet declares (0 if none) before the first row is read.

    A formula cell gives the value Excel saved with it (what the shop sees in the sheet),
    never its formula, and it is never evaluated. Only the first MAX_COLUMNS columns are
    read; trailing empty cells are dropped. Whole numbers come back as ints, so a mobile
    stays 13812345678, not 13812345678.0. More than MAX_SHEET_ROWS data rows (or rows
    numbered past Excel's last row) raise UnreadableFile, whatever the sheet declares."""
    check_zip(path)
    data = 0
    rows = xlsx.rows(path, MAX_COLUMNS, dimension)
    try:
        for number, values in rows:
            cells = [_cell(value) for value in values]
            while cells and cells[-1] is None:
                cells.pop()
            if number > EXCEL_ROWS:
                raise UnreadableFile(TOO_MANY_ROWS)
            if cells:
                data += 1
                if data > MAX_SHEET_ROWS + 1:  # + 1: the header
                    raise UnreadableFile(TOO_MANY_ROWS)
            yield cells
    except UnreadableFile:
        raise
    except Exception as exc:  # a damaged part: zip, XML or a value that does not parse
        raise UnreadableFile("this .xlsx file is damaged or not really an Excel file") from exc
    finally:
        rows.close()


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


def first_header(path: Path, file_format: str, encoding: str) -> list[str]:
    """The column names in the file's first non-blank row ([] for a file without one)."""
    rows = _xlsx_rows(path) if file_format == "xlsx" else _csv_rows(path, encoding)
    try:
        for row in rows:
            if not _is_blank(row):
                return _headers(row)
    finally:
        rows.close()
    return []


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


def _sample_row(row: list) -> list:
    """A data row as kept for the preview: long text cut at SAMPLE_CELL characters (still
    longer than any field takes, so the preview finds the same errors as the run)."""
    return [cell[:SAMPLE_CELL] if isinstance(cell, str) else cell for cell in row]


def inspect(path: Path, filename: str = "") -> FileInfo:
    """Format, encoding, headers, row count and the first PREVIEW_ROWS data rows. A CSV is
    read whole once (streamed), so a decoding error anywhere is found before anything is
    written. An XLSX is parsed only as far as its first PREVIEW_ROWS data rows when the sheet
    declares a plausible size (parsing 100,000 rows twice would double the work; the zip was
    checked on opening); without one (or with one over MAX_SHEET_ROWS, which blank formatted
    rows can cause) the sheet is streamed to the end to count, and refused over the limit."""
    file_format = detect_format(path, filename)
    encoding = "" if file_format == "xlsx" else detect_encoding(path)
    dimension: list = []
    rows = _xlsx_rows(path, dimension) if file_format == "xlsx" else _csv_rows(path, encoding)
    headers: list[str] | None = None
    sample: list[list] = []
    total = 0
    try:
        for row in rows:
            if _is_blank(row):
                continue
            if headers is None:
                headers = _headers(row)
                continue
            total += 1
            if len(sample) < PREVIEW_ROWS:
                sample.append(_sample_row(row))
                continue
            declared = dimension[0] if dimension else 0
            if file_format == "xlsx" and 1 < declared <= MAX_SHEET_ROWS + 1:
                total = max(total, declared - 1)  # the header row is not counted
                break
    finally:
        rows.close()
    if headers is None:
        raise UnreadableFile("the file is empty")
    return FileInfo(file_format, encoding, headers, total, sample)
