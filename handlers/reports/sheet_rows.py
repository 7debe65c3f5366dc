"""The long sheets' rows as SpreadsheetML, written straight to a file and spliced into XlsxWriter's workbook.

XlsxWriter spends about 10 µs of pure Python on every cell (argument checks, a regular expression or two,
one write call each): the 1.1 million cells of a 100,000-initiative export took 13 of its 17 seconds. Here
a cell is one f-string and a batch one write, about a fifth of that. XlsxWriter still makes everything else
(the summary, the header rows, widths, the frozen header, the filter, the styles); `splice` puts these
rows into its sheet files after their header row, each sheet's dimension made to match.

Cells read back as XlsxWriter's constant-memory mode writes them: text as inline strings, escaped as Excel
escapes them (control characters become `_xHHHH_`, a literal `_xHHHH_` gets its underscore escaped,
"&<>" are XML entities, leading or trailing spaces are kept), cut at Excel's 32,767 UTF-16 units; dates as
day numbers in their date style; numbers as numbers. Two differences, both safer: text that looks like
XlsxWriter's rich-string markup ("<r>…</r>") is escaped like any text, where XlsxWriter would write it as
XML; and a day before 1 March 1900, which Excel counts wrongly (its 1900 leap-year bug), is written as text.
Text is never a formula: a member's "=HYPERLINK(…)" stays words. The report's dates are days: a datetime's
time of day is not written.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from xlsxwriter.utility import xl_col_to_name

from domain import rules

EXCEL_EPOCH = dt.date(1899, 12, 30).toordinal()
FIRST_TRUE_SERIAL = 61  # 1 March 1900
MAX_TEXT = 32_767  # UTF-16 units
MAX_ROWS = 1_048_576  # Excel's last row: a row beyond it makes the file one Excel cannot open
NEEDS_ESCAPING = re.compile("[\x00-\x08\x0b-\x1f&<>\ufffe\uffff]|_x[0-9a-fA-F]{4}_")
LITERAL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
DIMENSION = re.compile(rb'<dimension ref="[^"]*"/>')


def _escaped(text: str) -> str:
    text = LITERAL_ESCAPE.sub(r"_x005F\1", text)
    text = CONTROL.sub(lambda match: f"_x{ord(match.group()):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _within_limit(text: str) -> str:
    """At most 32,767 UTF-16 units, as Excel counts (an emoji is two); a pair is never split."""
    if len(text) <= MAX_TEXT // 2 or len(encoded := text.encode("utf-16-le")) <= 2 * MAX_TEXT:
        return text
    return encoded[: 2 * MAX_TEXT].decode("utf-16-le", errors="ignore")


def text_cell(reference: str, text: str, style: str) -> str:
    """`text` (not empty) as an inline string; `style`: ' s="N"' or ""."""
    text = _within_limit(text)
    if NEEDS_ESCAPING.search(text):
        text = _escaped(text)
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f'<c r="{reference}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def date_cell(reference: str, value: dt.date, style: str) -> str:
    """A day as Excel counts days; before 1 March 1900 as text."""
    serial = value.toordinal() - EXCEL_EPOCH
    if serial < FIRST_TRUE_SERIAL:
        return text_cell(reference, rules.format_date(value), "")
    return f'<c r="{reference}"{style}><v>{serial}</v></c>'


class SheetRows:
    """One sheet's data rows, from row 2 on (row 1 is XlsxWriter's header), in a temporary file.

    `columns`: for each column, how to get its value from an item and its XlsxWriter style index (None:
    the default style; a date column must have a date style). An empty value (None, "") leaves the cell
    out. Items beyond what one sheet holds (its last row kept for `note`) are counted in `left_out`."""

    def __init__(self, folder: str, columns: Sequence[tuple[Callable[[Any], Any], int | None]]) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (open across batches; close())
        self.size = 0  # bytes written
        self.cells = [(xl_col_to_name(index), value, f' s="{style}"' if style else "")
                      for index, (value, style) in enumerate(columns)]  # fmt: skip
        self.last_column = xl_col_to_name(len(columns) - 1)
        self.count = 0  # rows written after the header
        self.room = MAX_ROWS - 2  # the header and a note
        self.left_out = 0

    def append(self, items: Iterable[Any]) -> None:
        rows = []
        row = self.count + 1
        for item in items:
            if row - 1 == self.room:
                self.left_out += 1
                continue
            row += 1
            number = str(row)
            cells = [f'<row r="{number}">']
            for letter, value_of, style in self.cells:
                value = value_of(item)
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    cells.append(text_cell(letter + number, value, style))
                elif isinstance(value, dt.date):
                    cells.append(date_cell(letter + number, value, style))
                else:
                    cells.append(f'<c r="{letter}{number}"{style}><v>{value:.16G}</v></c>')
            cells.append("</row>")
            rows.append("".join(cells))
        self._write("".join(rows))
        self.count = row - 1

    def note(self, text: str) -> None:
        """One line of text in the first column, below the rows (the last row is kept for it)."""
        self.count += 1
        self._write(f'<row r="{self.count + 1}">{text_cell(f"A{self.count + 1}", text, "")}</row>')

    def _write(self, xml: str) -> None:
        encoded = xml.encode()
        self.file.write(encoded)
        self.size += len(encoded)

    def copy_to(self, target: IO[bytes]) -> None:
        self.file.seek(0)
        while chunk := self.file.read(1 << 20):
            target.write(chunk)

    def close(self) -> None:
        self.file.close()


def splice(workbook: Path, sheets: dict[str, SheetRows], target: Path) -> None:
    """A copy of `workbook` with each sheet's rows after its header row; `sheets` by the sheet's part in the
    package ("xl/worksheets/sheet2.xml"). Every part keeps its name, date and compression."""
    spliced_parts = set()
    with zipfile.ZipFile(workbook) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as spliced:
        for entry in original.infolist():
            part = zipfile.ZipInfo(entry.filename, entry.date_time)
            part.compress_type, part.external_attr = entry.compress_type, entry.external_attr
            content = original.read(entry)
            rows = sheets.get(entry.filename)
            if rows is None:
                spliced.writestr(part, content)
                continue
            head, tail = content.split(b"</sheetData>", 1)
            dimension = f'<dimension ref="A1:{rows.last_column}{rows.count + 1}"/>'.encode()
            head, found = DIMENSION.subn(dimension, head, count=1)
            if not found:
                raise ValueError(f"{entry.filename}: no <dimension> to set")
            large = len(head) + rows.size + len(tail) > zipfile.ZIP64_LIMIT  # ZIP64 only when needed: Excel is strict
            with spliced.open(part, "w", force_zip64=large) as sheet:
                sheet.write(head)
                rows.copy_to(sheet)
                sheet.write(b"</sheetData>" + tail)
            spliced_parts.add(entry.filename)
    if missing := set(sheets) - spliced_parts:
        raise ValueError(f"no such sheets in the workbook: {sorted(missing)}")
