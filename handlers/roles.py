"""Who may do what, decided on the server from stored roles — never from what a button says."""

from __future__ import annotations

from handlers.context import Context
from storage.models import Initiative, Role


def is_admin(ctx: Context) -> bool:
    """Provincial admins are the Telegram accounts listed in SANGKIEN_ADMINS."""
    identity = ctx.identity
    return identity.platform == "telegram" and identity.platform_user_id in ctx.config.admin_telegram_ids


def chaired_branch_ids(ctx: Context) -> set[int]:
    member = ctx.member
    if member is None:
        return set()
    return {role.branch_id for role in member.roles if role.role == Role.CHAIR and role.branch_id is not None}


def can_review(ctx: Context, initiative: Initiative) -> bool:
    return ctx.member is not None and (is_admin(ctx) or initiative.branch_id in chaired_branch_ids(ctx))


def can_view(ctx: Context, initiative: Initiative) -> bool:
    return ctx.member is not None and (initiative.member_id == ctx.member.id or can_review(ctx, initiative))
