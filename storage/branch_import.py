"""Importing the branch list with quotas from a spreadsheet (.xlsx or .csv), all or nothing.

Columns, in any order, headers in Vietnamese or English with or without diacritics: code (`mã`), name
(`tên`), one quota column per phase (`quota_p1`, `chỉ tiêu giai đoạn 1`, `chi tieu gd2`, …) and,
optionally, `kính gửi`: the body that recognises the branch's initiatives (the Đơn is addressed to it), and
`mã cấp trên` / `parent_code`: the unit it belongs to (in the file or already known; blank: a root), which
builds the organisation tree. A re-import updates branches in place (matched by code); branches missing
from the file are left alone, since members belong to them. Any bad row stops the whole import: every
problem is reported with its row number and nothing is written.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.config import Campaign, Phase
from domain.text import clean_input
from storage import unit_directory
from storage.models import Branch, BranchQuota

MAX_FILE_BYTES = 2 * 1024 * 1024
# A spreadsheet is a zip: what it unpacks to is bounded before it is parsed (a few KB can declare GBs).
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 40
MAX_FIELD_CHARS = 1000
CODE_COLUMNS = {"code", "ma", "macdcs", "madonvi", "branchcode"}
NAME_COLUMNS = {"name", "ten", "tencdcs", "tendonvi", "branchname"}
# Whom the branch's initiatives are addressed to ("Kính gửi" of the Đơn: its council or head of unit).
RECOGNISING_COLUMNS = {"kinhgui", "recognisingbody", "coquancongnhan"}
# The unit above (the organisation tree): a code in the same file or already imported.
PARENT_COLUMNS = {"parentcode", "parent", "macaptren", "madonvicaptren", "captren", "donvicaptren"}
QUOTA_PREFIXES = ("quota", "chitieu")
PHASE_WORDS = ("phase", "giaidoan", "gd")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: a catalog key (`import_err_*`) and its parameters."""

    row: int
    key: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BranchRow:
    row: int
    code: str
    name: str
    quotas: dict[str, int]
    recognising_body: str | None = None
    parent_code: str | None = None  # None: the file has no parent column (the parent is left as it is)


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int


class ImportRejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def fold_header(text: str) -> str:
    """Lower case, no diacritics (đ → d), letters and digits only: `Chỉ tiêu GĐ 1` → `chitieugd1`."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in text if not unicodedata.combining(c)))


def _quota_phase(header: str, campaign: Campaign, other_phases: Sequence[Phase] = ()) -> str | None:
    """The phase code a quota column is for, or None if the header is not a quota column: a phase named by its
    code (`quota_p1`, `chỉ tiêu 2024`: this campaign's or another's), else by its number in `campaign`
    (`chỉ tiêu giai đoạn 1`). A code wins over a number: `p1` is the seed's phase code."""
    folded = fold_header(header)
    prefix = next((p for p in QUOTA_PREFIXES if folded.startswith(p)), None)
    if prefix is None:
        return None
    rest = folded.removeprefix(prefix)
    for word in PHASE_WORDS:
        rest = rest.removeprefix(word)
    named = next((p.code for p in (*campaign.phases, *other_phases) if fold_header(p.code) == rest), None)
    if named is not None:
        return named
    return next((p.code for index, p in enumerate(campaign.phases, 1) if rest in (str(index), f"p{index}")), None)


def read_rows(file_name: str, content: bytes) -> list[list[Any]]:
    """The sheet as rows of cell values (the first sheet of a workbook, or a CSV with , ; or tab)."""
    if len(content) > MAX_FILE_BYTES:
        raise ImportRejected([Problem(0, "import_err_too_big", {"limit_mb": MAX_FILE_BYTES // (1024 * 1024)})])
    lowered = file_name.lower()
    if lowered.endswith(".xlsx"):
        return _xlsx_rows(content)
    if lowered.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ImportRejected([Problem(0, "import_err_encoding")]) from error
        first_line = text.split("\n", 1)[0]
        delimiter = max(",;\t", key=first_line.count)
        try:
            reader = csv.reader(io.StringIO(text), delimiter=delimiter)
            return [row[:MAX_COLUMNS] for row in itertools.islice(reader, MAX_ROWS + 2)]
        except csv.Error as error:  # e.g. a field longer than csv's limit (128 KiB)
            raise ImportRejected([Problem(0, "import_err_unreadable")]) from error
    raise ImportRejected([Problem(0, "import_err_format")])


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    """The first sheet's rows, reading no more than MAX_ROWS (+ header) rows of MAX_COLUMNS cells, after
    checking what the file unpacks to."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as error:
        raise ImportRejected([Problem(0, "import_err_unreadable")]) from error
    if unpacked > MAX_UNPACKED_BYTES:
        raise ImportRejected([Problem(0, "import_err_unpacked_too_big", {"limit_mb": MAX_UNPACKED_BYTES // 2**20})])
    from openpyxl import load_workbook  # imported when first used: 34 MB a bot process holds only for imports

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            cells = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            return [list(row) for row in itertools.islice(cells, MAX_ROWS + 2)]
        finally:
            workbook.close()
    except Exception as error:  # openpyxl raises many kinds for a damaged or foreign file
        raise ImportRejected([Problem(0, "import_err_unreadable")]) from error


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return clean_input(str(value))[:MAX_FIELD_CHARS].strip()


def _whole_number(text: str) -> str | None:
    """A quota as typed: "12", "-3", "1.200" or "1,200" (thousands grouped by 3); not "2.5" or "1,5" —
    which used to lose their separator and import as 25 and 15."""
    if not text.isascii():
        return None
    if re.fullmatch(r"-?\d{1,6}", text):
        return text
    if re.fullmatch(r"-?\d{1,3}(?:([.,])\d{3})(?:\1\d{3})?", text):
        return text.replace(".", "").replace(",", "")
    return None


@dataclass(frozen=True)
class Table:
    """A sheet as read: its header and the rows under it, each with its number as the spreadsheet shows it."""

    header_row: int
    header: list[str]
    rows: list[tuple[int, list[Any]]]


def table(rows: list[list[Any]]) -> Table:
    """The first row that is not blank is the header (blank rows above it keep the numbering right)."""
    for index, row in enumerate(rows):
        if any(cell_text(v) for v in row):
            body = rows[index + 1 :]
            if len(body) > MAX_ROWS:
                raise ImportRejected([Problem(0, "import_err_too_many", {"limit": MAX_ROWS})])
            return Table(index + 1, [cell_text(v) for v in row], list(enumerate(body, start=index + 2)))
    raise ImportRejected([Problem(0, "import_err_empty")])


def parse(rows: list[list[Any]], campaign: Campaign, other_phases: Sequence[Phase] = ()) -> list[BranchRow]:
    """Validate every row; raise ImportRejected with all problems, or return the branches to write. Quota
    columns are for `campaign`'s phases, or name another campaign's phase by its code (`other_phases`)."""
    sheet = table(rows)
    header, problems = sheet.header, []
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        folded = fold_header(title)
        if not folded:
            continue
        key = "code" if folded in CODE_COLUMNS else "name" if folded in NAME_COLUMNS else None
        key = key or ("recognising_body" if folded in RECOGNISING_COLUMNS else None)
        key = key or ("parent_code" if folded in PARENT_COLUMNS else None)
        key = key or (f"quota:{phase}" if (phase := _quota_phase(title, campaign, other_phases)) else None)
        if key is None:
            problems.append(Problem(sheet.header_row, "import_err_unknown_column", {"column": title[:40]}))
        elif key in columns:
            problems.append(Problem(sheet.header_row, "import_err_repeated_column", {"column": title[:40]}))
        else:
            columns[key] = index
    for required in ("code", "name"):
        if required not in columns:
            problems.append(Problem(sheet.header_row, f"import_err_missing_{required}"))
    if problems:
        raise ImportRejected(problems)

    result: list[BranchRow] = []
    seen: dict[str, int] = {}
    for number, raw in sheet.rows:
        values = [cell_text(v) for v in raw] + [""] * len(header)
        if not any(values):
            continue
        code, name = values[columns["code"]].upper(), values[columns["name"]]
        if not code:
            problems.append(Problem(number, "import_err_no_code"))
        elif len(code) > 32 or not re.fullmatch(r"[A-Z0-9._-]+", code):
            problems.append(Problem(number, "import_err_bad_code", {"code": code[:40]}))
        elif code in seen:
            problems.append(Problem(number, "import_err_duplicate", {"code": code, "first": seen[code]}))
        else:
            seen[code] = number
        if not name:
            problems.append(Problem(number, "import_err_no_name"))
        elif len(name) > 255:
            problems.append(Problem(number, "import_err_long_name"))
        quotas: dict[str, int] = {}
        for key, index in columns.items():
            if not key.startswith("quota:") or not values[index]:
                continue
            phase = key.removeprefix("quota:")
            raw_value = _whole_number(values[index])
            if raw_value is None:
                problems.append(Problem(number, "import_err_quota", {"value": values[index][:20], "phase": phase}))
            elif int(raw_value) < 0:
                problems.append(Problem(number, "import_err_negative", {"value": raw_value, "phase": phase}))
            else:
                quotas[phase] = int(raw_value)
        body = values[columns["recognising_body"]] if "recognising_body" in columns else ""
        if len(body) > 255:
            problems.append(Problem(number, "import_err_long_recognising_body"))
        parent = values[columns["parent_code"]].upper() if "parent_code" in columns else None
        result.append(BranchRow(number, code, name, quotas, body or None, parent))
    if problems:
        raise ImportRejected(problems)
    if not result:
        raise ImportRejected([Problem(0, "import_err_empty")])
    return result


async def apply(session: AsyncSession, rows: list[BranchRow], *, sample: bool = False) -> ImportResult:
    """Create or update every branch of the file (inside the caller's transaction).

    `sample` marks the branches as sample data (the sandbox's); an import of real data clears the mark."""
    unit_directory.read_again_after_commit(session.sync_session)
    existing = {
        b.code.upper(): b for b in (await session.scalars(select(Branch).options(selectinload(Branch.quotas)))).all()
    }
    _check_tree(rows, existing)
    created = updated = 0
    untouched: set[str] = set()
    for row in rows:
        branch = existing.get(row.code)
        if branch is None:
            branch = Branch(code=row.code, name=row.name, is_sample=sample, recognising_body=row.recognising_body)
            branch.quotas = [BranchQuota(phase_code=p, quota=q) for p, q in row.quotas.items()]
            session.add(branch)
            existing[row.code] = branch
            created += 1
            continue
        current = {q.phase_code: q for q in branch.quotas}
        changed = branch.name != row.name or branch.is_sample != sample
        branch.name, branch.is_sample = row.name, sample
        if row.recognising_body is not None and branch.recognising_body != row.recognising_body:
            branch.recognising_body, changed = row.recognising_body, True
        for phase, quota in row.quotas.items():
            if phase not in current:
                branch.quotas.append(BranchQuota(phase_code=phase, quota=quota))
                changed = True
            elif current[phase].quota != quota:
                current[phase].quota = quota
                changed = True
        updated += changed
        if not changed:
            untouched.add(row.code)
    await session.flush()  # every unit of the file has an id: parents can point at them
    for row in rows:
        branch = existing[row.code]
        parent_id = existing[row.parent_code].id if row.parent_code else None
        if row.parent_code is not None and branch.parent_id != parent_id:
            branch.parent_id = parent_id
            if row.code in untouched:  # moved in the tree: updated
                untouched.discard(row.code)
                updated += 1
    await session.flush()
    return ImportResult(created, updated, len(untouched))


def _check_tree(rows: list[BranchRow], existing: dict[str, Branch]) -> None:
    """Every parent named is a unit of the file or one already known, and no unit ends up under itself
    (checked against the tree as it will be: the file's parents over the stored ones)."""
    problems: list[Problem] = []
    parent_of = {code: None for code in existing}
    ids = {branch.id: code for code, branch in existing.items()}
    for code, branch in existing.items():
        parent_of[code] = ids.get(branch.parent_id) if branch.parent_id is not None else None
    in_file = {row.code for row in rows}
    for row in rows:
        parent_of.setdefault(row.code, None)
        if row.parent_code is None:
            continue
        if row.parent_code == row.code:
            problems.append(Problem(row.row, "import_err_own_parent", {"code": row.code}))
            continue
        if row.parent_code and row.parent_code not in in_file and row.parent_code not in existing:
            problems.append(Problem(row.row, "import_err_unknown_parent", {"code": row.parent_code[:40]}))
        parent_of[row.code] = row.parent_code or None
    for row in rows:
        seen, current = {row.code}, parent_of.get(row.code)
        if row.parent_code == row.code:
            continue
        while current is not None and current not in seen:
            seen.add(current)
            current = parent_of.get(current)
        if current == row.code:
            problems.append(Problem(row.row, "import_err_parent_cycle", {"code": row.code}))
    if problems:
        raise ImportRejected(problems)
