"""The bytes of an uploaded CSV or XLSX file as numbered lines of cells, read defensively.

What arrives is whatever a school's or a teacher's spreadsheet program wrote, or whatever
someone hostile made: a CSV in UTF-8 (with or without BOM), GB18030/GBK as Excel writes it on
a Chinese Windows, or UTF-16 "Unicode text", separated by commas, tabs or semicolons; or an
XLSX workbook (its first sheet). Everything else is refused with `import_unreadable` and the
reason: binary junk, NUL bytes, text in neither encoding, a broken quote, a field longer
than the csv module's limit, a damaged archive, or one that unpacks into more than
`max_unpacked` bytes (a "zip bomb"). Formulas are never evaluated: an XLSX cell holds the
value the spreadsheet saved with it, or nothing. A row is read up to its `MAX_COLUMNS`th
cell, whatever the workbook claims its size to be.

Lines are numbered as the spreadsheet shows them (a CSV record spanning lines starts at its
first), so an error can name the line a person will look for.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from typing import Any

from shared.problems import ProblemError

MAX_UNPACKED_XLSX = 64 * 1024 * 1024
# Past any sheet a person fills in; a workbook claiming 16384 columns is read no further.
MAX_COLUMNS = 256

Line = tuple[int, list[Any]]


def lines(data: bytes, *, max_unpacked: int = MAX_UNPACKED_XLSX) -> Iterator[Line]:
    """(line number, cells) of every line of the file, blank ones included."""
    if not data.strip():
        raise ProblemError("import_unreadable", reason="the file is empty")
    if data[:4] == b"PK\x03\x04":
        return _xlsx_lines(data, max_unpacked)
    return _csv_lines(data)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312: what Excel writes for "CSV" on a Chinese Windows.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ProblemError("import_unreadable", reason="the text is neither UTF-8 nor GBK") from None


def _csv_lines(data: bytes) -> Iterator[Line]:
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise ProblemError("import_unreadable", reason="the text encoding is broken") from None
    if "\x00" in text:
        raise ProblemError("import_unreadable", reason="not a text file")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for record in reader:
            yield start, record[:MAX_COLUMNS]
            # A quoted field may span lines: the next record starts after this one's last line.
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ProblemError("import_unreadable", reason=f"line {reader.line_num}: {exc}") from None


def _xlsx_lines(data: bytes, max_unpacked: int) -> Iterator[Line]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # The sizes the archive declares bound what reading it unpacks: zipfile stops at
            # the declared size, and a member that holds more fails its check.
            unpacked = sum(info.file_size for info in archive.infolist())
        # A small upload may unpack into gigabytes (a "zip bomb"); a real list does not.
        if unpacked > max_unpacked:
            raise ProblemError("import_unreadable", reason=f"the workbook unpacks to more than {max_unpacked} bytes")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ProblemError:
        raise
    except Exception as exc:  # whatever a damaged or hostile archive makes openpyxl raise
        raise ProblemError("import_unreadable", reason=f"not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        if not workbook.worksheets:
            raise ProblemError("import_unreadable", reason="the workbook has no sheet")
        sheet = workbook.worksheets[0]
        # The size a sheet declares is the writer's word: every row would be padded to it.
        sheet.reset_dimensions()
        for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
            yield number, list(values)
    except ProblemError:
        raise
    except Exception as exc:  # broken XML, a truncated member, a bad CRC, cells openpyxl cannot place
        raise ProblemError("import_unreadable", reason=f"the workbook is damaged ({type(exc).__name__})") from None
    finally:
        workbook.close()
