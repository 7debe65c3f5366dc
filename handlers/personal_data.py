"""`/dulieu`: a member sees everything the bot stores about them and may ask for it to be erased
(Nghị định 13/2023/NĐ-CP). What erasure keeps and removes is in storage/personal_data.py."""

from __future__ import annotations

import json

from handlers import notices
from handlers.context import Context, esc
from handlers.events import Option, OutgoingFile, Reply
from handlers.profile import PROFILE
from storage import personal_data

ERASE, CONFIRM, KEEP = "pd:erase", "pd:erase:ok", "pd:keep"


def _platform(ctx: Context, platform: str) -> str:
    """ "Telegram", "Zalo": the channel's name as people write it."""
    key = f"platform_{platform}"
    return ctx.t(key) if ctx.t.has(key) else esc(platform)


async def show(ctx: Context) -> None:
    assert ctx.member is not None
    data = await personal_data.collect(ctx.session, ctx.member)
    accounts = ", ".join(f"{_platform(ctx, a['platform'])} {esc(a['name'] or a['user_id'])}" for a in data["accounts"])
    initiatives = "\n".join(
        ctx.t("data_initiative_line", id=i["id"], title=esc(i["title"] or ctx.t("untitled")),
              status=ctx.t(f"status_{i['status']}"))
        for i in data["initiatives"]
    ) or ctx.t("none")  # fmt: skip
    branch = data["member"]["branch"] or ctx.t("none")
    own = {i["id"] for i in data["initiatives"]}
    coauthored = sum(1 for a in data["author_of"] if a["initiative"] not in own)
    ctx.say(
        ctx.t("data_summary", name=esc(data["member"]["full_name"]), branch=esc(branch), profile=_profile(ctx),
              accounts=accounts, initiatives=initiatives, coauthored=coauthored,
              actions=sum(data["actions_recorded"].values())),
        [[Option(ctx.t("btn_data_erase"), ERASE)]],
    )  # fmt: skip
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    ctx.replies.append(Reply(text=ctx.t("data_file_caption"), file=OutgoingFile.generated("du-lieu-ca-nhan.json",
                                                                                          content)))  # fmt: skip


def _profile(ctx: Context) -> str:
    """The author profile's fields given (what the forms print), or that none is."""
    assert ctx.member is not None
    given = [(key, getattr(ctx.member, key)) for key in personal_data.PERSONAL_FIELDS]
    shown = [f"{ctx.t(f'field_{key}')}: {PROFILE.shown(ctx, value)}" for key, value in given if value not in (None, "")]
    return "; ".join(shown) or ctx.t("data_profile_empty")


async def _tell_sender(ctx: Context, initiative_id: int, title: str, sender: int) -> None:
    """A co-author erased his data: the initiative's list now reads «(đã xoá)» there, and its forms a blank."""

    def notice(there: Context) -> Reply:
        shown = esc(title) if title else there.t("untitled")
        return Reply(text=there.t("data_erased_coauthor", id=initiative_id, title=shown), ref=str(initiative_id))

    await notices.notify_members(ctx, {sender}, notice, purpose="notice", initiative_id=initiative_id)


async def ask_erase(ctx: Context) -> None:
    # the safe choice first: on Zalo «1», typed from habit, keeps everything
    ctx.say(ctx.t("data_erase_confirm"), [[Option(ctx.t("btn_data_erase_no"), KEEP)],
                                          [Option(ctx.t("btn_data_erase_yes"), CONFIRM)]])  # fmt: skip


async def handle_option(ctx: Context) -> None:
    payload = ctx.event.payload
    if payload == ERASE:
        await ask_erase(ctx)
    elif payload == CONFIRM:
        assert ctx.member is not None
        erased = await personal_data.erase(ctx.session, ctx.member, ctx.now())
        ctx.session.expunge_all()  # the account's rows are gone: nothing of it is written back
        ctx.say(ctx.t("data_erased", kept=erased.kept, deleted=erased.deleted))
        for initiative_id, title, sender in erased.unnamed_in:
            await _tell_sender(ctx, initiative_id, title, sender)
    else:
        ctx.say(ctx.t("data_kept"), menu=True)
