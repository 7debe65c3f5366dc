"""Admins load the branch list with quotas, or initiatives already recognised, by sending a spreadsheet to
the bot (`/import` explains how); which of the two a file is, its columns say."""

from __future__ import annotations

import io
import logging

from handlers.context import Context, esc
from handlers.events import EventKind, OutgoingFile, Reply
from handlers.i18n import Catalog
from handlers.roles import is_admin, refuse
from storage import branch_import, initiative_import
from storage.branch_import import ImportRejected, Problem

log = logging.getLogger(__name__)
SPREADSHEET_SUFFIXES = (".csv", ".xlsx")
MAX_PROBLEMS_SHOWN = 15
# The sheets to fill in, sent with /import's explanation (file name: its caption's key, its column titles): their
# titles are what the importers read.
TEMPLATES = {
    "mau-danh-sach-cdcs.xlsx": ("import_template_branches", ("Mã CĐCS", "Tên CĐCS", "Chỉ tiêu giai đoạn 1",
                                "Chỉ tiêu giai đoạn 2", "Kính gửi", "Mã cấp trên")),
    "mau-sang-kien-da-cong-nhan.xlsx": ("import_template_initiatives", ("Mã CĐCS", "Tên sáng kiến", "Loại", "Tác giả",
                                        "Số quyết định", "Ngày quyết định", "Cấp công nhận", "Lĩnh vực", "Chủ nhiệm",
                                        "Mã cổng")),
}  # fmt: skip


def is_spreadsheet(ctx: Context) -> bool:
    file = ctx.event.file
    return (
        ctx.event.kind is EventKind.FILE
        and file is not None
        and (file.file_name or "").lower().endswith(SPREADSHEET_SUFFIXES)
    )


def describe_problems(t: Catalog, problems: list[Problem]) -> str:
    """One line per problem, with its row (row 1 is the header), as the admin and the CLI show them."""
    lines = []
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        message = t(problem.key, **problem.params)
        lines.append(t("import_problem_row", row=problem.row, message=message) if problem.row else message)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(t("import_more_problems", count=len(problems) - MAX_PROBLEMS_SHOWN))
    return "\n".join(lines)


async def usage(ctx: Context) -> None:
    if not is_admin(ctx):
        refuse(ctx, None, "/import", "admin_only")
        return
    if ctx.event.platform == "zalo":  # Zalo carries photos to a bot, not files: where the file can go, first
        ctx.say(ctx.t("import_usage_zalo"))
    ctx.say(ctx.t("import_usage"))
    if ctx.event.platform != "zalo":  # the sheets to fill in, with the headers the bot reads
        for name, (caption, headers) in TEMPLATES.items():
            ctx.replies.append(Reply(text=ctx.t(caption), file=OutgoingFile.generated(name, _sheet(headers))))


def _sheet(headers: tuple[str, ...]) -> bytes:
    from openpyxl import Workbook  # imported when first used: 34 MB a bot process holds only for officers' files

    workbook = Workbook()
    workbook.active.append(list(headers))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def import_file(ctx: Context) -> None:
    """An admin sent a .csv or .xlsx: import it whole, or explain every bad row and change nothing."""
    file = ctx.event.file
    assert file is not None
    if not is_admin(ctx):
        refuse(ctx, None, "import branches", "admin_only")
        return
    if file.size_bytes and file.size_bytes > branch_import.MAX_FILE_BYTES:
        problems = [Problem(0, "import_err_too_big", {"limit_mb": branch_import.MAX_FILE_BYTES // (1024 * 1024)})]
        ctx.say(
            ctx.t("import_rejected", file=esc(file.file_name or ""), problems=esc(describe_problems(ctx.t, problems)))
        )
        return
    try:
        content = await ctx.download(file)
    except Exception as error:  # the platform's problem, not the bot's: a warning, with what it said
        log.warning("could not download %s: %s", file.file_id, error)
        ctx.say(ctx.t("import_download_failed"))
        return
    name = esc(file.file_name or "")
    try:
        sheet = branch_import.read_rows(file.file_name or "", content)
        if initiative_import.is_initiative_list(sheet):
            initiatives = initiative_import.parse(sheet, ctx.campaign, ctx.today())
            assert ctx.member is not None
            async with ctx.session.begin_nested():
                count = await initiative_import.apply(ctx.session, initiatives, ctx.campaign, ctx.member, ctx.now())
            ctx.say(ctx.t("import_initiatives_done", file=name, count=count))
            return
        await ctx.services.campaigns.refresh(ctx.session, force=True)  # a campaign added a moment ago counts
        every_phase = [phase for campaign in ctx.services.campaigns.campaigns for phase in campaign.phases]
        rows = branch_import.parse(sheet, ctx.campaign, every_phase)
        async with ctx.session.begin_nested():
            result = await branch_import.apply(ctx.session, rows)
    except ImportRejected as rejected:
        ctx.say(ctx.t("import_rejected", file=name, problems=esc(describe_problems(ctx.t, rejected.problems))))
        return
    ctx.say(ctx.t("import_done", file=name, rows=len(rows), created=result.created, updated=result.updated,
                  unchanged=result.unchanged))  # fmt: skip
