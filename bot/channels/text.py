"""Text helpers for channels: splitting long texts (Telegram 4096, Zalo 2000), plain text, commands."""

from __future__ import annotations

import html
import re


def split_text(text: str, limit: int) -> list[str]:
    """Split at line boundaries into chunks of at most `limit` characters (a very long line is cut)."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk.strip()]


_TAG = re.compile(r"<[^>]+>")


def html_to_plain(text: str) -> str:
    """The reply markup (a tiny HTML subset) as plain text, for platforms without formatting (Zalo)."""
    return html.unescape(_TAG.sub("", text))


def parse_command(text: str) -> tuple[str, str]:
    """ "/progress@bot args" → ("progress", "args")."""
    head, _, args = text.strip().partition(" ")
    return head[1:].split("@", 1)[0].lower(), args.strip()
