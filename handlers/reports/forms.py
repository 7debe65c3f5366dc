"""The council's Word documents (python-docx), filled from the stored answers.

- Đơn yêu cầu công nhận sáng kiến — the standard form of Circular 18/2013/TT-BKHCN, Appendix I.
- Mô tả sáng kiến — 1 name, 2 field, 3 substance (3.1 known solution … 3.5 attached documents).
What the chat did not ask is left as dotted blanks to fill by hand. A4, Times New Roman 13.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from bot.config import Campaign
from domain import rules
from handlers.reports.documents import doc_list, doc_text
from storage.models import Initiative

FONT = "Times New Roman"


def _document() -> DocumentType:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(30), Mm(20)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    return document


def _centered(document: DocumentType, text: str, *, bold: bool = False, italic: bool = False) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold, run.italic = bold, italic


def _or_blank(value: object) -> str:
    if value is None or value == "":
        return doc_text("blank")
    return str(value)


def _table(document: DocumentType, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = header
        cell.paragraphs[0].runs[0].bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value


def _benefit_lines(initiative: Initiative) -> list[str]:
    lines = []
    if initiative.economic_benefit:
        lines.append(doc_text("economic_benefit", text=initiative.economic_benefit))
    if initiative.economic_amount_vnd:
        lines.append(doc_text("economic_amount", amount=rules.format_amount(initiative.economic_amount_vnd)))
    if initiative.social_benefit:
        lines.append(doc_text("social_benefit", text=initiative.social_benefit))
    return lines or [doc_text("blank")]


def _save(document: DocumentType) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def request_form(initiative: Initiative, campaign: Campaign) -> bytes:
    """Đơn yêu cầu công nhận sáng kiến (Circular 18/2013/TT-BKHCN, Appendix I)."""
    document = _document()
    _centered(document, doc_text("nation"), bold=True)
    _centered(document, doc_text("motto"), bold=True)
    _centered(document, doc_text("request_title"), bold=True)
    document.add_paragraph(doc_text("request_addressee", addressee=doc_text("blank")))
    document.add_paragraph(doc_text("request_intro"))
    blank = doc_text("short_blank")
    rows = []
    for number, author in enumerate(initiative.authors, start=1):
        birth = rules.format_date(author.birth_date) if author.birth_date else blank
        details = [birth, author.workplace or blank, author.job_title or blank, author.qualification or blank]
        rows.append([str(number), author.full_name, *details, f"{author.share_percent}%"])
    _table(document, doc_list("request_author_headers"), rows)
    document.add_paragraph(doc_text("request_is_author", title=_or_blank(initiative.title)))
    document.add_paragraph(doc_text("request_investor", value=doc_text("blank")))
    document.add_paragraph(doc_text("request_field", value=_or_blank(initiative.field)))
    document.add_paragraph(
        doc_text("request_first_applied", value=_or_blank(rules.format_date(initiative.first_applied_on)))
    )
    document.add_paragraph(doc_text("request_substance"))
    for text in (initiative.problem, initiative.solution):
        document.add_paragraph(_or_blank(text))
    document.add_paragraph(doc_text("request_confidential", value=doc_text("blank")))
    document.add_paragraph(doc_text("request_conditions", value=doc_text("blank")))
    document.add_paragraph(doc_text("request_benefit_author"))
    for line in _benefit_lines(initiative):
        document.add_paragraph(line)
    document.add_paragraph(doc_text("request_benefit_appliers", value=doc_text("blank")))
    document.add_paragraph(doc_text("request_appliers"))
    _table(document, doc_list("request_applier_headers"), [[doc_text("short_blank")] * 7])
    document.add_paragraph(doc_text("request_declaration"))
    signature = document.add_paragraph(doc_text("request_place_date"))
    signature.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _centered(document, doc_text("request_signer"), bold=True)
    _centered(document, doc_text("request_signer_hint"), italic=True)
    return _save(document)


def description(initiative: Initiative, campaign: Campaign) -> bytes:
    """Mô tả sáng kiến: name, field, substance 3.1–3.5."""
    document = _document()
    _centered(document, doc_text("description_title"), bold=True)
    document.add_paragraph(doc_text("description_name", value=_or_blank(initiative.title)))
    document.add_paragraph(doc_text("description_field", value=_or_blank(initiative.field)))
    document.add_paragraph(doc_text("description_substance"))
    document.add_paragraph(doc_text("description_known"))
    document.add_paragraph(_or_blank(initiative.problem))
    document.add_paragraph(doc_text("description_solution"))
    document.add_paragraph(_or_blank(initiative.solution))
    document.add_paragraph(doc_text("description_applicability"))
    kind = doc_text(f"application_{initiative.application_kind}") if initiative.application_kind else doc_text("blank")
    document.add_paragraph(
        doc_text(
            "description_applicability_text",
            kind=kind,
            place=_or_blank(initiative.application_place),
            date=_or_blank(rules.format_date(initiative.first_applied_on)),
        )
    )
    document.add_paragraph(doc_text("description_benefits"))
    for line in _benefit_lines(initiative):
        document.add_paragraph(line)
    document.add_paragraph(doc_text("description_attachments"))
    names = [a.file_name or f"{a.kind} {n}" for n, a in enumerate(initiative.attachments, start=1)]
    for name in names or [doc_text("description_no_attachments")]:
        document.add_paragraph(f"- {name}")
    return _save(document)


def file_names(initiative: Initiative) -> tuple[str, str]:
    return f"don-yeu-cau-cong-nhan-sang-kien-{initiative.id}.docx", f"mo-ta-sang-kien-{initiative.id}.docx"
