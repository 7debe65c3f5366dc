"""What each role sees: the main menu, the help, and the platform's command list.

Member: 📝 Sáng kiến mới · 🗂 Bản nháp · 📋 Đã gửi · 📊 Tiến độ · ❓ Hướng dẫn. A chair also 📥 Chờ xác nhận
(with how many wait). An admin: 📊 Tiến độ chung · 📤 Xuất Excel · 📢 Thông báo · 👥 Chủ tịch CĐCS ·
🏢 CĐCS · ❓ Hướng dẫn. Where there are no buttons (Zalo) the same words typed are understood.
"""

from __future__ import annotations

import functools
import re

from domain.rules import plain_words
from handlers import review
from handlers.context import Context
from handlers.i18n import Catalog
from handlers.roles import chaired_branch_ids, is_admin

MEMBER = ("menu_new", "menu_drafts", "menu_mine", "menu_progress", "menu_help")
ADMIN = ("menu_unit_progress", "menu_export", "menu_broadcast", "menu_chairs", "menu_branches", "menu_help")
# The command each menu item stands for.
COMMANDS = {
    "menu_new": "new", "menu_drafts": "drafts", "menu_mine": "mine", "menu_progress": "progress",
    "menu_help": "help", "menu_pending": "pending", "menu_unit_progress": "progress", "menu_export": "export",
    "menu_broadcast": "broadcast", "menu_chairs": "chairs", "menu_branches": "import",
}  # fmt: skip
# Commands understood as typed words too, though no menu shows them: typed without their «/» (Zalo is driven by
# typing), by their names or words; none is an answer to a question.
TYPED_COMMANDS = {
    "lien ket": "link", "link": "link", "help": "help", "tro giup": "help", "cong nhan": "congnhan",
    "congnhan": "congnhan", "ghi cong nhan": "congnhan", "nhap ho": "nhapho", "nhapho": "nhapho",
    "tieu bieu": "tieubieu", "tieubieu": "tieubieu",
}  # fmt: skip
# The platform's command list (Telegram's "/" menu), by role.
ROLE_COMMANDS = {
    "member": ("new", "drafts", "mine", "progress", "congnhan", "hoso", "link", "dulieu", "help"),
    "chair": ("pending", "sangkien", "new", "drafts", "mine", "progress", "congnhan", "tieubieu", "nhapho", "export",
              "hoso", "link", "help"),
    "admin": ("progress", "export", "broadcast", "chairs", "invite_chair", "import", "nhapho", "pending", "sangkien",
              "tieubieu", "link", "help"),
}  # fmt: skip


def role(ctx: Context) -> str:
    if is_admin(ctx):
        return "admin"
    return "chair" if chaired_branch_ids(ctx) else "member"


async def labels(ctx: Context) -> tuple[str, ...]:
    """The main menu of this person's role."""
    t = ctx.t
    current = role(ctx)
    if current == "admin":
        return tuple(t(key) for key in ADMIN)
    items = [t(key) for key in MEMBER]
    if current == "chair":
        waiting = len(await review.waiting_for(ctx, chaired_branch_ids(ctx)))
        items.insert(0, t("menu_pending", count=waiting))
    return tuple(items)


_COUNT = re.compile(r"\(\d+\)")  # "📥 Chờ xác nhận (4)": the label with its count, as tapped
_TYPED_COUNT = re.compile(r"\s\d+\s*$")  # "Chờ xác nhận 4": the count typed where there are no buttons


@functools.lru_cache(maxsize=512)
def _words(label: str) -> str:
    """A menu label's words without its count, as typed text is compared with them (the labels are few:
    kept once folded)."""
    return plain_words(_COUNT.sub(" ", label))


def command_for(t: Catalog, text: str) -> str | None:
    """A menu item tapped (Telegram's keyboard: the label with its count, as shown) or typed (where there are
    no buttons; the waiting count may be typed too, and only there: "Tiến độ 2024" is not the menu)."""
    typed = plain_words(_COUNT.sub(" ", text))
    if not typed:
        return None
    for key, command in COMMANDS.items():
        if typed == _words(t(key, count=0) if key == "menu_pending" else t(key)):
            return command
    if plain_words(_TYPED_COUNT.sub(" ", text)) == _words(t("menu_pending", count=0)):
        return COMMANDS["menu_pending"]
    return TYPED_COMMANDS.get(typed)


# «tôi muốn gửi sáng kiến», «viết sáng kiến mới», "I want to submit an initiative": a new one is meant.
_WANTS_TO_SUBMIT = re.compile(
    r"\b(?:(?:gui|nop|viet|mo ta|dang ky|tao|them|lam)\b.*\bsang kien|sang kien (?:moi|de gui))\b"
    r"|\b(?:submit|new|send|write)\b.*\binitiative\b"
)


def wants_to_submit(text: str) -> bool:
    """Words that ask to describe an initiative, where nothing else reads them."""
    return len(text) <= 120 and _WANTS_TO_SUBMIT.search(plain_words(text)) is not None


def help_text(ctx: Context) -> str:
    """The help of each role the person holds, the highest first: an admin reads his own tools before a
    member's, and an admin of no branch only what he can do for himself (his menu has no member's items).
    On Zalo, officers read how a group hears the bot (only when mentioned: their /linkgroup is typed there)."""
    current = role(ctx)
    parts = [ctx.t("help_title")]
    if current == "admin":
        parts.append(ctx.t("help_admin"))
    if current == "chair" or (current == "admin" and chaired_branch_ids(ctx)):
        parts.append(ctx.t("help_chair"))
    if current != "member" and ctx.event.platform == "zalo":
        parts[-1] += "\n" + ctx.t("help_zalo_groups")
    has_branch = ctx.member is not None and ctx.member.branch_id is not None
    parts.append(ctx.t("help") if current != "admin" or has_branch else ctx.t("help_admin_own"))
    return "\n\n".join(parts)
