"""Who may do what (handlers/roles.py), decided from stored roles: every rule against a person who holds
the role, one who holds it elsewhere, and one who is an author. Exact answers (mutation-tested); the
end-to-end tests press the buttons (test_review_e2e.py, test_robustness_e2e.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config
from handlers import roles
from handlers.context import Context, Services
from handlers.events import Event, EventKind
from storage.models import AuditEvent, Author, Identity, Initiative, Member, MemberRole, Role, Status

BRANCH, OTHER = 10, 20


class RecordingSession:
    """Only what `refuse` uses of a session: the rows it adds."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def person(
    member_id: int | None, *roles_held: tuple[Role, int | None], platform: str = "telegram", user_id: str = "5"
) -> Identity:
    identity = Identity(platform=platform, platform_user_id=user_id)
    if member_id is not None:
        member = Member(id=member_id, full_name=f"Người {member_id}", branch_id=BRANCH)
        member.roles = [MemberRole(role=role, branch_id=branch) for role, branch in roles_held]
        member.identities = [identity]
        identity.member = member
    return identity


def context(config: Config, identity: Identity, admins: frozenset[str] = frozenset()) -> Context:
    services = Services(config=config.model_copy(update={"admins": admins}), sessions=None)  # type: ignore[arg-type]
    event = Event(platform=identity.platform, update_key="1", user_id=identity.platform_user_id, chat_id="5",
                  kind=EventKind.TEXT)  # fmt: skip
    return Context(services=services, session=RecordingSession(), event=event, identity=identity)  # type: ignore[arg-type]


def initiative(status: Status, *, by: int = 1, authors: tuple[int | None, ...] = (), entered_by: int | None = None):
    found = Initiative(id=7, member_id=by, branch_id=BRANCH, status=status, entered_by_member_id=entered_by)
    found.authors = [Author(member_id=member_id, full_name="x", share_percent=1) for member_id in authors]
    return found


def test_chairs_review_their_branchs_submitted_work_but_never_their_own(config: Config) -> None:
    chair = context(config, person(2, (Role.CHAIR, BRANCH), (Role.MEMBER, None)))
    elsewhere = context(config, person(3, (Role.CHAIR, OTHER)))
    member = context(config, person(4, (Role.MEMBER, BRANCH)))
    stranger = context(config, person(None))
    submitted = initiative(Status.SUBMITTED, by=1)
    assert roles.chaired_branch_ids(chair) == {BRANCH}
    assert roles.chaired_branch_ids(member) == set() and roles.chaired_branch_ids(stranger) == set()
    assert [roles.can_review(c, submitted) for c in (chair, elsewhere, member, stranger)] == [True, False, False, False]
    assert [roles.can_decide(c, submitted) for c in (chair, elsewhere, member, stranger)] == [True, False, False, False]
    assert not roles.can_review(chair, initiative(Status.DRAFT, by=1)), "a draft is its author's alone"
    assert roles.can_review(chair, initiative(Status.VERIFIED, by=1))
    own = initiative(Status.SUBMITTED, by=2)
    coauthored = initiative(Status.SUBMITTED, by=1, authors=(None, 2))
    assert roles.can_review(chair, own) and not roles.can_decide(chair, own)
    assert not roles.can_decide(chair, coauthored), "named among the authors"
    entered = initiative(Status.SUBMITTED, by=2, entered_by=2, authors=(1,))
    assert not roles.is_author(chair, entered) and roles.can_decide(chair, entered), "entering is not authorship"
    assert roles.is_author(context(config, person(1)), entered)
    assert not roles.is_author(stranger, submitted)


def test_a_reviewer_whose_name_is_among_the_authors_does_not_decide(config: Config) -> None:
    """A row not linked to the reviewer still names him: an officer who typed his own name into an entry for
    members, a co-author who answered "not me". Accents, case and spaces aside; another name is no bar."""
    chair = context(config, person(2, (Role.CHAIR, BRANCH)))  # "Người 2"

    def naming(name: str, *, entered_by: int | None = None) -> Initiative:
        found = initiative(Status.SUBMITTED, by=2 if entered_by else 1, entered_by=entered_by)
        found.authors = [Author(member_id=None, full_name=name, share_percent=100)]
        return found

    for name in ("Người 2", "NGUOI  2", "người 2"):
        assert roles.is_author(chair, naming(name)) and not roles.can_decide(chair, naming(name)), name
        assert not roles.can_decide(chair, naming(name, entered_by=2)), name
    assert roles.can_decide(chair, naming("Người 22")) and roles.can_decide(chair, naming("Người", entered_by=2))
    namesake = naming("Người 2")
    namesake.authors[0].member_id, namesake.authors[0].confirmed = 5, True
    assert roles.can_decide(chair, namesake), "a row another registered member confirmed is his, whatever the name"
    namesake.authors[0].confirmed = None
    assert not roles.can_decide(chair, namesake), "not yet confirmed: it may still be the reviewer's"


def test_entering_for_members_is_for_the_branchs_chair_and_admins(config: Config) -> None:
    chair = context(config, person(2, (Role.CHAIR, BRANCH)))
    admin = context(config, person(8, user_id="8"), admins=frozenset({"telegram:8"}))
    member = context(config, person(4, (Role.MEMBER, BRANCH)))
    assert [roles.may_enter_for(c, BRANCH) for c in (chair, admin, member)] == [True, True, False]
    assert [roles.may_enter_for(c, OTHER) for c in (chair, admin, member)] == [False, True, False]


def test_admins_by_any_linked_account_and_what_each_may_view(config: Config) -> None:
    zalo = Identity(platform="zalo", platform_user_id="z9")
    admin_identity = person(8, (Role.MEMBER, None), user_id="8")
    admin_identity.member.identities = [admin_identity, zalo]
    zalo.member = admin_identity.member
    admins = frozenset({"telegram:8"})
    on_zalo = context(config, zalo, admins)
    assert roles.is_admin(context(config, admin_identity, admins)) and roles.is_admin(on_zalo), "the same person"
    assert roles.is_admin(context(config, person(None, user_id="8"), admins)), "before registering"
    assert not roles.is_admin(context(config, person(9, user_id="9"), admins))
    assert not roles.is_admin(context(config, person(None, user_id="9"), admins))
    submitted = initiative(Status.SUBMITTED, by=1)
    assert roles.can_decide(on_zalo, submitted) and not roles.can_decide(on_zalo, initiative(Status.SUBMITTED, by=8))
    author = context(config, person(1))
    assert roles.can_view(author, initiative(Status.DRAFT, by=1))
    assert not roles.can_view(context(config, person(2)), submitted)
    assert not roles.can_view(context(config, person(None)), submitted)
    assert roles.can_view(on_zalo, submitted)


@pytest.mark.parametrize("with_initiative", [True, False])
def test_a_refusal_is_said_logged_and_audited_and_reveals_nothing(config: Config, caplog, with_initiative) -> None:
    ctx = context(config, person(3, (Role.MEMBER, None), user_id="33"))
    target = initiative(Status.SUBMITTED) if with_initiative else None
    with caplog.at_level("WARNING", logger="handlers.roles"):
        roles.refuse(ctx, target, "decision on #7 " + "x" * 300 + "\n2022-04-20 CRITICAL forged", "review_own_work")
    [event] = ctx.session.added  # type: ignore[attr-defined]
    assert isinstance(event, AuditEvent)
    assert (event.initiative_id, event.actor_member_id, event.action) == (7 if with_initiative else None, 3, "refused")
    assert event.reason == ("decision on #7 " + "x" * 300)[:200]
    assert [reply.text for reply in ctx.replies] == [ctx.t("review_own_work")]
    [record] = caplog.records
    forged = "\\n2022-04-20 CRITICAL forged"  # what a person typed stays on the line, never a log line of its own
    assert record.getMessage() == f"refused '{event.reason[:15]}{'x' * 300}{forged}' by telegram:33 (member 3)"
    stranger = context(config, person(None))
    roles.refuse(stranger, None, "x")
    assert stranger.session.added[0].actor_member_id is None  # type: ignore[attr-defined]
    assert [reply.text for reply in stranger.replies] == [stranger.t("review_not_allowed")]
