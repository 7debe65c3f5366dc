"""The submission wizard as data: one `Step` per question, in order.

Back, Skip, Edit-from-summary and the "Bước k/N" counter are one mechanism (handlers/wizard.py) over
this table. A step's prompt is catalog key `step_<key>`, its name in the summary `field_<key>`.

Eligibility comes first (plan IV.2.2, IV.3): an initiative that is not novel in its unit, is under
intellectual-property protection or is contrary to public order stops before its author writes anything;
a research topic (1.7) must have been accepted and its effect confirmed by the applying unit's head
(plan IV.2.4). The author's own details (workplace, date of birth…) are not asked here: they are the
member's profile, asked once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Campaign
from handlers.events import FileRef
from storage.models import Initiative


class Kind(enum.Enum):
    TEXT = "text"
    CHOICE = "choice"
    DATE = "date"
    AMOUNT = "amount"
    DECISION = "decision"  # a decision's number and date, typed together
    AUTHORS = "authors"
    LEAD = "lead"  # one of the authors, chosen
    FILES = "files"


def _always(_initiative: Initiative, _campaign: Campaign) -> bool:
    return True


def is_research(initiative: Initiative, campaign: Campaign) -> bool:
    kind = campaign.type_by_code(initiative.type_code or "")
    return bool(kind and kind.research)


def _has_economic_benefit(initiative: Initiative, _campaign: Campaign) -> bool:
    return initiative.economic_benefit is not None


def _is_recognised(initiative: Initiative, _campaign: Campaign) -> bool:
    return initiative.recognition_kind is not None


def _research_with_coauthors(initiative: Initiative, campaign: Campaign) -> bool:
    return is_research(initiative, campaign) and len(initiative.authors) > 1


@dataclass(frozen=True, eq=False)  # each step exists once (STEPS): compared by identity, not field by field
class Step:
    key: str
    kind: Kind
    attr: str = ""
    optional: bool = False
    applies: Callable[[Initiative, Campaign], bool] = _always
    min_len: int = 1
    max_len: int = 200
    # TEXT: an answer of digits alone is taken («108»: a hospital known by its number); elsewhere it is a list's
    # number typed where no list has it, and refused.
    digits_alone: bool = False
    # CHOICE: fixed (value, catalog key) pairs; the type step takes its choices from the campaign.
    choices: tuple[tuple[str, str], ...] = ()
    # CHOICE: short answers people type for a choice, beyond its label's words ("rồi": already applied).
    typed_answers: tuple[tuple[str, str], ...] = ()
    # TEXT: one-tap suggestions (catalog keys) that fill the answer.
    suggestions: tuple[str, ...] = ()
    # DATE: which rule checks it ("applied", "past").
    date_rule: str = "past"
    # A CHOICE value that is refused with an explanation (the ineligible answer).
    refused_value: str = ""
    # CHOICE: other attributes set to the same stored value (one declaration answering three conditions).
    also_sets: tuple[str, ...] = ()
    # The optional step whose answer decides whether this one is asked: until the member has passed
    # it, the step counter counts this one too, so "Bước k/N" never grows while they answer.
    decided_by: str = ""

    @property
    def prompt_key(self) -> str:
        return f"step_{self.key}"

    @property
    def label_key(self) -> str:
        return f"field_{self.key}"

    def is_answered(self, initiative: Initiative) -> bool:
        if self.kind is Kind.AUTHORS:
            return bool(initiative.authors)
        if self.kind is Kind.LEAD:
            return any(a.is_lead for a in initiative.authors)
        if self.kind is Kind.FILES:
            return True
        return all(getattr(initiative, attr) is not None for attr in (self.attr, *self.also_sets))


STEPS: tuple[Step, ...] = (
    Step(
        "eligibility",
        Kind.CHOICE,
        "declared_novel",
        choices=(("yes", "choice_eligible_yes"), ("no", "choice_eligible_no")),
        refused_value="no",
        also_sets=("declared_no_ip", "declared_lawful"),
    ),
    Step("title", Kind.TEXT, "title", min_len=10, max_len=250),
    Step("type", Kind.CHOICE, "type_code"),
    Step(
        "research_level",
        Kind.CHOICE,
        "research_level",
        applies=is_research,
        choices=(("province", "choice_research_province"), ("ministry", "choice_research_ministry")),
    ),
    Step(
        "head_confirmed",
        Kind.CHOICE,
        "head_confirmed",
        applies=is_research,
        choices=(("yes", "choice_head_confirmed_yes"), ("no", "choice_head_confirmed_no")),
        refused_value="no",
    ),
    Step(
        "field",
        Kind.TEXT,
        "field",
        min_len=3,
        max_len=200,
        suggestions=(
            "suggest_field_education",
            "suggest_field_health",
            "suggest_field_administration",
            "suggest_field_union",
            "suggest_field_culture",
            "suggest_field_science",
        ),
    ),
    Step("problem", Kind.TEXT, "problem", min_len=30, max_len=3000),
    Step("solution", Kind.TEXT, "solution", min_len=50, max_len=3500),
    Step("first_applied_on", Kind.DATE, "first_applied_on", date_rule="applied"),
    Step(
        "application_kind",
        Kind.CHOICE,
        "application_kind",
        choices=(("applied", "choice_applied"), ("trial", "choice_trial")),
        typed_answers=(("rồi", "applied"), ("đã", "applied"), ("đã rồi", "applied"), ("yes", "applied")),
    ),
    Step("application_place", Kind.TEXT, "application_place", min_len=3, max_len=300, digits_alone=True),
    Step("economic_benefit", Kind.TEXT, "economic_benefit", optional=True, min_len=10, max_len=2000),
    Step(
        "economic_amount",
        Kind.AMOUNT,
        "economic_amount_vnd",
        optional=True,
        applies=_has_economic_benefit,
        decided_by="economic_benefit",
    ),
    Step("social_benefit", Kind.TEXT, "social_benefit", optional=True, min_len=10, max_len=2000),
    Step(
        "recognition_kind",
        Kind.CHOICE,
        "recognition_kind",
        optional=True,
        choices=(("council", "choice_recognised_council"), ("head", "choice_recognised_head")),
    ),
    Step(
        "recognition_decision",
        Kind.DECISION,
        "recognition_decision_no",
        applies=_is_recognised,
        also_sets=("recognition_date",),
        decided_by="recognition_kind",
    ),
    Step("authors", Kind.AUTHORS),
    Step("lead", Kind.LEAD, applies=_research_with_coauthors, decided_by="authors"),
    Step("attachments", Kind.FILES, optional=True),
)

STEPS_BY_KEY = {step.key: step for step in STEPS}
SUMMARY = "summary"
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # Zalo's photos, which the bot keeps itself, to the same limit


def too_big(file: FileRef) -> bool:
    """Over the attachment limit, or not kept by the channel (a Zalo photo over it has no file id)."""
    return not file.file_id or (file.size_bytes or 0) > MAX_ATTACHMENT_BYTES


# How CHOICE values are stored on the initiative when they are not stored verbatim.
STORED_VALUE = {"eligibility": {"yes": True}, "head_confirmed": {"yes": True}}
# A research topic is recognised by its acceptance council (nghiệm thu): the only choice it is offered.
RESEARCH_RECOGNITION = (("acceptance", "choice_recognised_acceptance"),)


def applicable_steps(initiative: Initiative, campaign: Campaign) -> list[Step]:
    return [step for step in STEPS if step.applies(initiative, campaign)]


def counted_steps(initiative: Initiative, campaign: Campaign, current: Step) -> list[Step]:
    """The steps "Bước k/N" counts: those that apply, plus those still to be decided by a later answer."""
    position = STEPS.index(current)

    def undecided(step: Step) -> bool:
        if not step.decided_by or STEPS.index(STEPS_BY_KEY[step.decided_by]) < position:
            return False
        return step.key != "lead" or is_research(initiative, campaign)

    return [step for step in STEPS if step.applies(initiative, campaign) or undecided(step)]


def first_missing_step(initiative: Initiative, campaign: Campaign) -> Step | None:
    """The first applicable required step without an answer, or None when the draft is complete."""
    return next(
        (s for s in applicable_steps(initiative, campaign) if not s.optional and not s.is_answered(initiative)),
        None,
    )
