"""The council's Word documents (python-docx), filled from the stored answers and the dossier.

- Đơn yêu cầu công nhận sáng kiến — the form of Circular 18/2013/TT-BKHCN, Appendix I; a research topic
  (type 1.7) gets its own request instead, with the acceptance (nghiệm thu) and the applying unit's
  confirmation the plan asks for (IV.2.4).
- Mô tả sáng kiến — author and unit, 1 name, 2 field, 3 substance (3.1 known solution … 3.5 attached
  documents), 4 confidential information, 5 conditions, and the two signature blocks.
What the author left unanswered stays a dotted blank to fill by hand. A4, Times New Roman 13.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from bot.config import Campaign
from domain import rules
from handlers.reports.documents import doc_list, doc_text
from handlers.wizard_steps import is_research
from storage.models import Author, Initiative
from storage.personal_data import is_erased

FONT = "Times New Roman"
SIGNATURE_SPACE = 4  # empty lines left to sign in


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
    style.paragraph_format.space_after = Pt(3)
    return document


def _centered(document: DocumentType, text: str, *, bold: bool = False, italic: bool = False) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold, run.italic = bold, italic


def _heading(document: DocumentType, *title: str) -> None:
    """Quốc hiệu, tiêu ngữ and the rule under it, then the document's title."""
    _centered(document, doc_text("nation"), bold=True)
    _centered(document, doc_text("motto"), bold=True)
    _centered(document, doc_text("motto_rule"))
    for line in title:
        _centered(document, line, bold=line.isupper())


def _or_blank(value: object) -> str:
    if value is None or value == "":
        return doc_text("blank")
    return str(value)


def _without_leading_at(place: str | None) -> str | None:
    """The place as the sentence «Áp dụng tại {place}» takes it: «Tại đơn vị», as members type it, printed
    «Áp dụng tại Tại đơn vị»."""
    if place is None:
        return None
    first, _, rest = place.strip().partition(" ")
    return rest.strip() if first.rstrip(":,").casefold() in ("tại", "ở") and rest.strip() else place


# The people tables' columns (mm, 160 in all: the text width): no., name, birth date, workplace, title,
# qualification, share or part — wide enough that a date never breaks.
PEOPLE_COLUMNS_MM = (11, 30, 24, 30, 21, 20, 24)


def _table(document: DocumentType, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A people table, in 11-point type so a header fits its column."""
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.autofit = False
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = header
        cell.paragraphs[0].runs[0].bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = value
    for column, width in zip(table.columns, PEOPLE_COLUMNS_MM, strict=True):
        column.width = Mm(width)  # the grid LibreOffice reads; Word reads the cells'
    for row in table.rows:
        for cell, width in zip(row.cells, PEOPLE_COLUMNS_MM, strict=True):
            cell.width = Mm(width)
            for run in (run for paragraph in cell.paragraphs for run in paragraph.runs):
                run.font.size = Pt(11)


@dataclass(frozen=True)
class Signature:
    """A signature block: who signs (bold), how (in brackets), room to sign, and the name if known."""

    title: str
    hint: str
    dated: str = ""  # "Phú Thọ, ngày … tháng … năm …" above the title
    name: str = ""


def _signatures(document: DocumentType, left: Signature | None, right: Signature) -> None:
    """Signature blocks side by side (a borderless table), as official documents place them."""
    table = document.add_table(rows=1, cols=2)
    table.autofit = False
    row = table.rows[0]
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))  # the blocks stay on one page
    for column in table.columns:
        column.width = Mm(80)
    for cell, block in zip(row.cells, (left, right), strict=True):
        cell.width = Mm(80)
        if block is None:
            continue
        lines = [(block.dated, False, True), (block.title, True, False), (block.hint, False, True)]
        lines += [("", False, False)] * SIGNATURE_SPACE + [(block.name, True, False)]
        for number, (text, bold, italic) in enumerate(line for line in lines if line[0] or not line[1]):
            paragraph = cell.paragraphs[0] if number == 0 else cell.add_paragraph()
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run(text)
            run.bold, run.italic = bold, italic


def place_date(campaign: Campaign, today: dt.date) -> str:
    return doc_text("place_date", place=campaign.place, day=f"{today.day:02d}", month=f"{today.month:02d}",
                    year=today.year)  # fmt: skip


def amount(value: int | None) -> str:
    return doc_text("amount", amount=rules.group_thousands(value)) if value is not None else ""


def unit_of(initiative: Initiative) -> str:
    """The unit an initiative is recognised in: its lead author's workplace, else the branch's name."""
    lead = _lead(initiative)
    return (lead.workplace if lead is not None and lead.workplace else "") or initiative.branch.name


def addressee_choices(initiative: Initiative) -> list[str]:
    """Who the request may be addressed to: the branch's recognising body (from the branch list), then the
    unit's council and its head, the one its recognition kind names first."""
    unit = unit_of(initiative)
    council, head = doc_text("addressee_council", unit=unit), doc_text("addressee_head", unit=unit)
    ordered = [head, council] if initiative.recognition_kind == "head" else [council, head]
    choices = [initiative.branch.recognising_body or "", *ordered]
    return [c for n, c in enumerate(choices) if c and c not in choices[:n]]


def addressee(initiative: Initiative) -> str:
    """The author's "Kính gửi", else the branch's default, else (recognition known) the body it names."""
    if initiative.addressee:
        return initiative.addressee
    if initiative.branch.recognising_body or initiative.recognition_kind in ("council", "head"):
        return addressee_choices(initiative)[0]
    return ""


def _lead(initiative: Initiative) -> Author | None:
    return next((a for a in initiative.authors if a.is_lead), initiative.authors[0] if initiative.authors else None)


def _signer_name(initiative: Initiative) -> str:
    """Who signs for the authors: the lead (chủ nhiệm / credited author), else the first author."""
    lead = _lead(initiative)
    return _author_name(lead) if lead is not None else ""


def _author_name(author: Author) -> str:
    """The author's name, blank to fill by hand where he erased his data (storage/personal_data.py)."""
    return doc_text("short_blank") if is_erased(author.full_name) else author.full_name


def _author_rows(initiative: Initiative, share: Callable[[Author], str]) -> list[list[str]]:
    blank = doc_text("short_blank")
    rows = []
    for number, author in enumerate(initiative.authors, start=1):
        birth = rules.format_date(author.birth_date) or blank
        details = [birth, author.workplace or blank, author.job_title or blank, author.qualification or blank]
        rows.append([str(number), _author_name(author), *details, share(author)])
    return rows


def _applier_rows(initiative: Initiative) -> list[list[str]]:
    """The appliers' list as typed (one person a line, columns split by ";"), under the form's headers."""
    blank = doc_text("short_blank")
    rows = []
    for number, line in enumerate((initiative.appliers or "").splitlines(), start=1):
        parts = [part.strip() for part in line.split(";")][:6]
        if len(parts) == 2:  # "name; their part": the usual short answer
            parts = [parts[0], "", "", "", "", parts[1]]
        parts += [""] * (6 - len(parts))
        rows.append([str(number), *(part or blank for part in parts)])
    return rows or [[blank] * 7]


def _benefit_lines(initiative: Initiative) -> list[str]:
    lines = []
    if initiative.economic_benefit:
        lines.append(doc_text("economic_benefit", text=initiative.economic_benefit))
    if initiative.economic_amount_vnd:
        lines.append(doc_text("economic_amount", amount=amount(initiative.economic_amount_vnd)))
    if initiative.social_benefit:
        lines.append(doc_text("social_benefit", text=initiative.social_benefit))
    return lines or [doc_text("blank")]


def _save(document: DocumentType) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def request_form(initiative: Initiative, campaign: Campaign, today: dt.date) -> bytes:
    """Đơn yêu cầu công nhận sáng kiến (Circular 18/2013/TT-BKHCN, Appendix I), or a research topic's."""
    if is_research(initiative, campaign):
        return _research_request(initiative, campaign, today)
    document = _document()
    _heading(document, doc_text("request_title"))
    document.add_paragraph(doc_text("request_addressee", addressee=_or_blank(addressee(initiative))))
    document.add_paragraph(doc_text("request_intro"))
    _table(document, doc_list("request_author_headers"), _author_rows(initiative, lambda a: f"{a.share_percent}%"))
    document.add_paragraph(doc_text("request_is_author", title=_or_blank(initiative.title)))
    document.add_paragraph(doc_text("request_investor", value=_or_blank(initiative.investor)))
    document.add_paragraph(doc_text("request_field", value=_or_blank(initiative.field)))
    applied = rules.format_date(initiative.first_applied_on)
    document.add_paragraph(doc_text("request_first_applied", value=_or_blank(applied)))
    document.add_paragraph(doc_text("request_substance"))
    document.add_paragraph(doc_text("request_known", value=_or_blank(initiative.problem)))
    document.add_paragraph(doc_text("request_solution", value=_or_blank(initiative.solution)))
    document.add_paragraph(doc_text("request_applicability", value=_or_blank(initiative.applicability)))
    document.add_paragraph(doc_text("request_confidential", value=_or_blank(initiative.confidential)))
    document.add_paragraph(doc_text("request_conditions", value=_or_blank(initiative.conditions)))
    document.add_paragraph(doc_text("request_benefit_author"))
    for line in _benefit_lines(initiative):
        document.add_paragraph(line)
    document.add_paragraph(doc_text("request_benefit_appliers", value=_or_blank(initiative.appliers_opinion)))
    document.add_paragraph(doc_text("request_appliers"))
    _table(document, doc_list("request_applier_headers"), _applier_rows(initiative))
    document.add_paragraph(doc_text("request_declaration"))
    signer = Signature(
        doc_text("request_signer"), doc_text("signature_hint"), place_date(campaign, today), _signer_name(initiative)
    )
    _signatures(document, None, signer)
    return _save(document)


def _research_request(initiative: Initiative, campaign: Campaign, today: dt.date) -> bytes:
    """A research topic (1.7): accepted by an acceptance council, its effect confirmed by the head of the
    unit applying it (plan IV.2.4); the lead (chủ nhiệm) is who it is credited to (IV.2.5)."""
    document = _document()
    _heading(document, doc_text("research_title"), doc_text("research_subtitle"))
    document.add_paragraph(doc_text("request_addressee", addressee=_or_blank(addressee(initiative))))
    document.add_paragraph(doc_text("request_intro"))
    lead = _lead(initiative)

    def role(author: Author) -> str:
        name = doc_text("research_role_lead" if author is lead else "research_role_member")
        return f"{name}, {author.share_percent}%"

    _table(document, doc_list("research_author_headers"), _author_rows(initiative, role))
    document.add_paragraph(doc_text("research_is_author", title=_or_blank(initiative.title)))
    level = doc_text(f"research_level_{initiative.research_level}") if initiative.research_level else ""
    document.add_paragraph(doc_text("research_level", value=_or_blank(level)))
    document.add_paragraph(doc_text("request_field", value=_or_blank(initiative.field)))
    accepted = ""
    if initiative.recognition_decision_no and initiative.recognition_date:
        accepted = doc_text("research_acceptance_value", body=doc_text("recognition_acceptance"),
                            number=initiative.recognition_decision_no,
                            date=rules.format_date(initiative.recognition_date))  # fmt: skip
    document.add_paragraph(doc_text("research_acceptance", value=_or_blank(accepted)))
    applied = rules.format_date(initiative.first_applied_on)
    document.add_paragraph(doc_text("research_first_applied", value=_or_blank(applied)))
    document.add_paragraph(doc_text("research_applied_at", value=_or_blank(initiative.application_place)))
    document.add_paragraph(doc_text("research_substance"))
    document.add_paragraph(doc_text("research_problem", value=_or_blank(initiative.problem)))
    document.add_paragraph(doc_text("research_result", value=_or_blank(initiative.solution)))
    document.add_paragraph(doc_text("research_effect"))
    for line in _benefit_lines(initiative):
        document.add_paragraph(line)
    confirmed = {True: "research_head_confirmed_yes", False: "research_head_confirmed_no"}.get(
        initiative.head_confirmed  # type: ignore[arg-type]
    )
    document.add_paragraph(doc_text("research_head_confirmed", value=_or_blank(confirmed and doc_text(confirmed))))
    document.add_paragraph(doc_text("request_confidential", value=_or_blank(initiative.confidential)))
    document.add_paragraph(doc_text("request_conditions", value=_or_blank(initiative.conditions)))
    document.add_paragraph(doc_text("request_declaration"))
    head = Signature(doc_text("research_head_signer"), doc_text("signature_stamp_hint"))
    signer = Signature(
        doc_text("research_signer"), doc_text("signature_hint"), place_date(campaign, today), _signer_name(initiative)
    )
    _signatures(document, head, signer)
    return _save(document)


def _attachment_names(initiative: Initiative) -> list[str]:
    """Each file by its name; one without, by its kind and number among that kind ("Ảnh 1" is the first
    photo, as the chat and the review page call it), the decision's scan by what it is."""
    names, counts = [], {"attachment_photo": 0, "attachment_document": 0}
    for attachment in initiative.attachments:
        if attachment.purpose == "decision":  # handlers/recognition.py: the recognition decision's scan
            names.append(attachment.file_name or doc_text("attachment_recognition"))
            continue
        kind = "attachment_photo" if attachment.kind == "photo" else "attachment_document"
        counts[kind] += 1
        names.append(attachment.file_name or doc_text(kind, number=counts[kind]))
    return names


def description(initiative: Initiative, campaign: Campaign, today: dt.date) -> bytes:
    """Mô tả sáng kiến: who and where, 1–5, signed by the author and confirmed by the applying unit."""
    document = _document()
    _heading(document, doc_text("description_title"))
    shares = [doc_text("description_author_share", name=_author_name(a), share=a.share_percent)
              for a in initiative.authors]  # fmt: skip
    document.add_paragraph(doc_text("description_authors", value=_or_blank(", ".join(shares))))
    workplaces = list(dict.fromkeys(a.workplace for a in initiative.authors if a.workplace))
    document.add_paragraph(doc_text("description_unit", value=_or_blank("; ".join(workplaces))))
    document.add_paragraph(doc_text("description_name", value=_or_blank(initiative.title)))
    document.add_paragraph(doc_text("description_field", value=_or_blank(initiative.field)))
    document.add_paragraph(doc_text("description_substance"))
    document.add_paragraph(doc_text("description_known"))
    document.add_paragraph(_or_blank(initiative.problem))
    document.add_paragraph(doc_text("description_solution"))
    document.add_paragraph(doc_text("description_purpose", value=_or_blank(initiative.purpose)))
    document.add_paragraph(doc_text("description_content", value=_or_blank(initiative.solution)))
    document.add_paragraph(doc_text("description_applicability"))
    document.add_paragraph(_or_blank(initiative.applicability))
    document.add_paragraph(doc_text("description_benefits"))
    kind = doc_text(f"application_{initiative.application_kind}") if initiative.application_kind else ""
    document.add_paragraph(doc_text("description_applied", kind=_or_blank(kind),
                                    place=_or_blank(_without_leading_at(initiative.application_place)),
                                    date=_or_blank(rules.format_date(initiative.first_applied_on))))  # fmt: skip
    for line in _benefit_lines(initiative):
        document.add_paragraph(line)
    document.add_paragraph(doc_text("description_attachments"))
    for name in _attachment_names(initiative) or [doc_text("description_no_attachments")]:
        document.add_paragraph(f"- {name}")
    document.add_paragraph(doc_text("description_confidential", value=_or_blank(initiative.confidential)))
    document.add_paragraph(doc_text("description_conditions", value=_or_blank(initiative.conditions)))
    unit = Signature(doc_text("description_unit_signer"), doc_text("signature_stamp_hint"))
    author = Signature(
        doc_text("description_author_signer"),
        doc_text("signature_hint"),
        place_date(campaign, today),
        _signer_name(initiative),
    )
    _signatures(document, unit, author)
    return _save(document)


def file_names(initiative: Initiative) -> tuple[str, str]:
    return f"don-yeu-cau-cong-nhan-sang-kien-{initiative.id}.docx", f"mo-ta-sang-kien-{initiative.id}.docx"
