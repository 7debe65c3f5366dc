"""The neutral vocabulary between channels and conversations: an incoming `Event`, outgoing `Reply`s.

Channels (bot/channels/*) translate platform updates into Events and render Replies in the platform's
best form; handlers never know which platform they talk to.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD_BYTES = 64
# Platforms whose sent messages cannot be edited (an edit arrives as a new message: one a chat is enough).
WITHOUT_EDITS = frozenset({"zalo"})
ROW_CHARS = 30  # what a 360-pixel phone shows whole of a button as wide as the chat; half that in a row of two
# "nl:<ref>:<number>": where there are no buttons, a bare number that both the question being answered and a
# notice that arrived after it (reference <ref>) have; the person is asked which one they mean.
WHICH_LIST = "nl:"
# "nc:<number>:<ref>,<ref>…": where there are no buttons, a bare number while several lists with references were
# shown at once (the chair's waiting cards); the person is asked which one they mean.
WHICH_CARD = "nc:"
# "nn:<ref>:<number>": where there are no buttons, a bare number no list in view has but an earlier one with
# reference <ref> has; the person is told how to answer that one.
NOT_LISTED = "nn:"
# "nr:<number>:<count>": where there are no buttons, a bare number beyond the latest list (of <count> options) and
# no other list's: the person is told which numbers it has, and the list still takes them.
BEYOND_LIST = "nr:"


class EventKind(enum.StrEnum):
    TEXT = "text"
    COMMAND = "command"
    OPTION = "option"
    FILE = "file"
    UNSUPPORTED = "unsupported"
    # The bot was added to or removed from a group, or the group moved (payload: joined, left, moved:<id>).
    MEMBERSHIP = "membership"


@dataclass(frozen=True)
class FileRef:
    file_id: str
    kind: str  # "photo" or "document"
    file_name: str | None = None
    size_bytes: int | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class Event:
    platform: str
    update_key: str
    user_id: str
    chat_id: str
    kind: EventKind
    display_name: str = ""
    text: str = ""
    command: str = ""
    args: str = ""
    payload: str = ""
    file: FileRef | None = None
    is_private: bool = True
    chat_title: str = ""


@dataclass(frozen=True)
class Option:
    """A choice shown to the person. `payload` comes back verbatim in an OPTION event; an option with a
    `url` instead opens that page (Telegram: a link button; Zalo: the link written out). A button too long
    for a phone is cut at its end, unless `keep_end` (a unit's name: its end tells it from its neighbours)."""

    label: str
    payload: str = ""
    url: str = ""
    keep_end: bool = False

    def __post_init__(self) -> None:
        if self.url:
            if self.payload:
                raise ValueError("an option is either a payload or a url")
        elif not 1 <= len(self.payload.encode()) <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"option payload must be 1-{MAX_PAYLOAD_BYTES} bytes: {self.payload!r}")

    def to_json(self) -> list[str | bool]:
        if self.keep_end:
            return [self.label, self.payload, self.url, True]
        return [self.label, self.payload, self.url] if self.url else [self.label, self.payload]

    @classmethod
    def from_json(cls, data: list[str | bool]) -> Option:
        return cls(*data)  # type: ignore[arg-type]


def two_a_row(options: list[Option]) -> list[list[Option]]:
    """The options two a row where both labels fit half a phone's width, else one a row: a cut label hides
    words («Giáo dục – đà…», «✖️ Dừng (giữ …»)."""
    rows: list[list[Option]] = []
    for option in options:
        if rows and len(rows[-1]) == 1 and max(len(rows[-1][0].label), len(option.label)) <= ROW_CHARS // 2:
            rows[-1].append(option)
        else:
            rows.append([option])
    return rows


@dataclass(frozen=True)
class OutgoingFile:
    """A file to send: one the platform already holds (by its file id), or generated `content`."""

    file_id: str
    kind: str  # "photo" or "document"
    content: bytes | None = None
    file_name: str = ""

    @classmethod
    def generated(cls, file_name: str, content: bytes, kind: str = "document") -> OutgoingFile:
        return cls(file_id="", kind=kind, content=content, file_name=file_name)


@dataclass(frozen=True)
class Reply:
    """One outgoing message. `text` uses a tiny HTML subset (<b>, <i>); user content must be escaped.

    `options` are rows of choices; `menu` asks the channel to show the persistent main menu;
    `replace_origin` edits the message whose option was chosen instead of sending a new one. `ref` is a
    short reference a person can type with their choice where there are no buttons ("1 123": the first
    option of the message about #123), for messages answered out of order, like review cards.
    `numbers_answer` says a bare number typed is an answer (a day, an amount), not the number of an option.
    `keeps_origin` asks the channel to leave the message whose option was chosen as it is, buttons included
    (the review card after "📄 Chi tiết": its decision buttons stay); `clears_origin`, that the press did
    nothing (an old question's option, a refused one): the message loses its buttons without showing a choice.
    `awaits_answer`: a message sent to someone else (a notice) that is the question they answer next, as a
    reply would be (a newly linked account's draft): where options are numbered, a bare number answers it.
    `nothing_asked`: the step's last reply, which leaves the person at the main menu with no question pending:
    where options are numbered, the lists shown before it no longer answer a bare number (only with their
    reference), so a notice's «1» that arrives next is not taken for a finished question's.
    """

    text: str
    options: tuple[tuple[Option, ...], ...] = ()
    menu: tuple[str, ...] = ()
    replace_origin: bool = False
    file: OutgoingFile | None = None
    ref: str = ""
    numbers_answer: bool = False
    keeps_origin: bool = False
    clears_origin: bool = False
    awaits_answer: bool = False
    nothing_asked: bool = False
    # With the menu: the person's role ("member", "chair", "admin"), for the platform's command list.
    commands: str = ""
    # The reply's row in the outbox while it is sent directly (storage/reply_journal.py).
    journal_id: int | None = None
    # The language its text is in: what a channel adds to it (Zalo's "answer with a number") is in the same.
    language: str = ""

    def to_json(self) -> dict[str, Any]:
        """The reply as stored in the outbox (generated files are sent directly, never queued)."""
        if self.file is not None and self.file.content is not None:
            raise ValueError("generated files are not stored in the outbox")
        return {
            "text": self.text,
            "options": [[o.to_json() for o in row] for row in self.options],
            "menu": list(self.menu),
            "file": [self.file.file_id, self.file.kind] if self.file else None,
            "ref": self.ref,
            **({"numbers_answer": True} if self.numbers_answer else {}),
            **({"awaits_answer": True} if self.awaits_answer else {}),
            **({"nothing_asked": True} if self.nothing_asked else {}),
            **({"language": self.language} if self.language else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        file = data.get("file")
        return cls(
            text=data["text"],
            options=tuple(tuple(Option.from_json(o) for o in row) for row in data.get("options", [])),
            menu=tuple(data.get("menu", [])),
            file=OutgoingFile(file[0], file[1]) if file else None,
            ref=data.get("ref", ""),
            numbers_answer=data.get("numbers_answer", False),
            awaits_answer=data.get("awaits_answer", False),
            nothing_asked=data.get("nothing_asked", False),
            language=data.get("language", ""),
        )
