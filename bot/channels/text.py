"""Text helpers for channels: splitting long texts (Telegram 4096, Zalo 2000), plain text, commands."""

from __future__ import annotations

import html
import re

_HTML_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|\s+|[^<&\s]+|[<&]")
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z]+)[^>]*>")
# Room kept in each chunk for the tags closed at its end and opened again at the next one's start.
_TAG_RESERVE = 200
_SENTENCE_ENDS = (".", "!", "?", "…")


def split_text(text: str, limit: int, *, markup: bool = False) -> list[str]:
    """Split into chunks of at most `limit` characters, at line boundaries where possible; a line longer
    than the limit is cut between words. With `markup` (Telegram's HTML), a cut never falls inside a tag or
    an entity (`&amp;`), and tags open at a cut are closed and opened again, so each chunk parses alone."""
    if len(text) <= limit:
        return [text]
    budget = limit - _TAG_RESERVE if markup else limit
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        for index, piece in enumerate(_cut_line(line, budget, markup)):
            candidate = f"{current}\n{piece}" if current else piece
            if current and (index > 0 or len(candidate) > budget):  # a line's pieces are never joined by a break
                chunks.append(current)
                current = piece
            else:
                current = candidate
    if current:
        chunks.append(current)
    chunks = [chunk for chunk in chunks if chunk.strip()]
    return _balance_tags(chunks) if markup else chunks


def _cut_line(line: str, budget: int, markup: bool) -> list[str]:
    """A line as pieces of at most `budget` characters, cut only between tokens (tags, entities, words): after
    a sentence's end where one lies in the piece's second half (a member's long paragraph reads in whole
    sentences), else after the last word that fits."""
    if len(line) <= budget:
        return [line]
    tokens = _HTML_TOKEN.findall(line) if markup else re.findall(r"\s+|\S+", line)
    pieces, current = [], ""
    sentence_end = 0  # where `current`'s last sentence ends (0: none yet)
    for token in tokens:
        while len(token) > budget and not token.startswith(("<", "&")):  # a word longer than a whole chunk
            room = budget - len(current)
            pieces.append(current + token[:room])
            current, token, sentence_end = "", token[room:], 0
        if len(current) + len(token) > budget and sentence_end > budget // 2:
            pieces.append(current[:sentence_end])
            current, sentence_end = current[sentence_end:].lstrip(), 0
        if len(current) + len(token) > budget:  # no sentence's end, or what follows it still too long
            pieces.append(current)
            current, sentence_end = "", 0
        if token.isspace() and current.endswith(_SENTENCE_ENDS):
            sentence_end = len(current)
        current += token
    pieces.append(current)
    return [piece for piece in pieces if piece]


def _balance_tags(chunks: list[str]) -> list[str]:
    """Close at each chunk's end the tags still open there, and open them again at the next chunk's start."""
    balanced: list[str] = []
    still_open: list[tuple[str, str]] = []  # (name, opening tag), outermost first
    for chunk in chunks:
        prefix = "".join(tag for _, tag in still_open)
        for match in _HTML_TAG.finditer(chunk):
            name = match.group(2).lower()
            if not match.group(1):
                still_open.append((name, match.group(0)))
            elif still_open and still_open[-1][0] == name:
                still_open.pop()
        suffix = "".join(f"</{name}>" for name, _ in reversed(still_open))
        balanced.append(prefix + chunk + suffix)
    return balanced


_TAG = re.compile(r"<[^>]+>")


def html_to_plain(text: str) -> str:
    """The reply markup (a tiny HTML subset) as plain text, for platforms without formatting (Zalo)."""
    return html.unescape(_TAG.sub("", text))


def parse_command(text: str) -> tuple[str, str]:
    """ "/progress@bot args" → ("progress", "args")."""
    head, _, args = text.strip().partition(" ")
    return head[1:].split("@", 1)[0].lower(), args.strip()
