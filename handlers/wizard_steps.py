"""The submission wizard as data: one `Step` per question, in order.

Back, Skip, Edit-from-summary and the "Bước k/N" counter are one mechanism (handlers/wizard.py) over
this table. A step's prompt is catalog key `step_<key>`, its name in the summary `field_<key>`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Campaign
from storage.models import Initiative


class Kind(enum.Enum):
    TEXT = "text"
    CHOICE = "choice"
    DATE = "date"
    AMOUNT = "amount"
    AUTHORS = "authors"
    FILES = "files"


def _always(_initiative: Initiative, _campaign: Campaign) -> bool:
    return True


def _is_research(initiative: Initiative, campaign: Campaign) -> bool:
    kind = campaign.type_by_code(initiative.type_code or "")
    return bool(kind and kind.research)


def _has_economic_benefit(initiative: Initiative, _campaign: Campaign) -> bool:
    return initiative.economic_benefit is not None


def _is_recognised(initiative: Initiative, _campaign: Campaign) -> bool:
    return initiative.recognition_kind is not None


@dataclass(frozen=True)
class Step:
    key: str
    kind: Kind
    attr: str = ""
    optional: bool = False
    applies: Callable[[Initiative, Campaign], bool] = _always
    min_len: int = 1
    max_len: int = 200
    # CHOICE: fixed (value, catalog key) pairs; the type step takes its choices from the campaign.
    choices: tuple[tuple[str, str], ...] = ()
    # TEXT: one-tap suggestions (catalog keys) that fill the answer.
    suggestions: tuple[str, ...] = ()
    # DATE: which rule checks it ("applied", "recognised", "birth", "past").
    date_rule: str = "past"
    # A CHOICE value that is refused with an explanation (the ineligible answer).
    refused_value: str = ""
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
        if self.kind is Kind.FILES:
            return True
        return getattr(initiative, self.attr) is not None


STEPS: tuple[Step, ...] = (
    Step("title", Kind.TEXT, "title", min_len=10, max_len=250),
    Step("type", Kind.CHOICE, "type_code"),
    Step(
        "research_level",
        Kind.CHOICE,
        "research_level",
        applies=_is_research,
        choices=(("province", "choice_research_province"), ("ministry", "choice_research_ministry")),
    ),
    Step("acceptance_date", Kind.DATE, "acceptance_date", applies=_is_research, date_rule="past"),
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
    ),
    Step("application_place", Kind.TEXT, "application_place", min_len=3, max_len=300),
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
        Kind.TEXT,
        "recognition_decision_no",
        applies=_is_recognised,
        min_len=1,
        max_len=100,
        decided_by="recognition_kind",
    ),
    Step(
        "recognition_date",
        Kind.DATE,
        "recognition_date",
        applies=_is_recognised,
        date_rule="recognised",
        decided_by="recognition_kind",
    ),
    Step("authors", Kind.AUTHORS),
    Step("birth_date", Kind.DATE, "author_birth_date", optional=True, date_rule="birth"),
    Step("job_title", Kind.TEXT, "author_job_title", optional=True, min_len=2, max_len=120),
    Step(
        "qualification",
        Kind.TEXT,
        "author_qualification",
        optional=True,
        min_len=2,
        max_len=120,
        suggestions=(
            "suggest_qual_college",
            "suggest_qual_bachelor",
            "suggest_qual_master",
            "suggest_qual_doctor",
        ),
    ),
    Step("attachments", Kind.FILES, optional=True),
    Step(
        "ip",
        Kind.CHOICE,
        "declared_no_ip",
        choices=(("no", "choice_ip_no"), ("yes", "choice_ip_yes")),
        refused_value="yes",
    ),
    Step("lawful", Kind.CHOICE, "declared_lawful", choices=(("yes", "choice_lawful_yes"),)),
)

STEPS_BY_KEY = {step.key: step for step in STEPS}
SUMMARY = "summary"
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

# How CHOICE values are stored on the initiative when they are not stored verbatim.
STORED_VALUE = {"ip": {"no": True, "yes": False}, "lawful": {"yes": True}}


def applicable_steps(initiative: Initiative, campaign: Campaign) -> list[Step]:
    return [step for step in STEPS if step.applies(initiative, campaign)]


def counted_steps(initiative: Initiative, campaign: Campaign, current: Step) -> list[Step]:
    """The steps "Bước k/N" counts: those that apply, plus those still to be decided by a later answer."""
    position = STEPS.index(current)

    def undecided(step: Step) -> bool:
        return bool(step.decided_by) and STEPS.index(STEPS_BY_KEY[step.decided_by]) >= position

    return [step for step in STEPS if step.applies(initiative, campaign) or undecided(step)]


def first_missing_step(initiative: Initiative, campaign: Campaign) -> Step | None:
    """The first applicable required step without an answer, or None when the draft is complete."""
    return next(
        (s for s in applicable_steps(initiative, campaign) if not s.optional and not s.is_answered(initiative)),
        None,
    )
