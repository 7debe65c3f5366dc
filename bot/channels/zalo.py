"""The Zalo channel: Zalo updates → neutral Events, neutral Replies → Zalo Bot API calls.

Zalo has no buttons: options are sent as a numbered list (bot/channels/numbered.py) and the menu shown
is kept in the database, so "2" — or "2 123" for the review card of #123, or the option's words — comes
back to the conversation as the option itself. Zalo cannot upload files either: generated documents and
charts are stored and sent as links to the bot's web app (a chart as a photo by URL). Photos people send
are fetched at once (their URLs expire) and kept. Updates are handled one person at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import mimetypes
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import numbered
from bot.channels.dispatch import handle_counted
from bot.channels.limits import SendLimits, SteadyRate
from bot.channels.ordering import KeyedSequencer
from bot.channels.text import html_to_plain, parse_command
from bot.channels.zalo_client import ZaloApiError, ZaloClient, ZaloMessage, transient
from bot.outbox import Rejected, RetryLater, Unreachable
from handlers.context import Services
from handlers.events import (
    BEYOND_LIST,
    NOT_LISTED,
    WHICH_CARD,
    WHICH_LIST,
    Event,
    EventKind,
    FileRef,
    OutgoingFile,
    Reply,
)
from handlers.i18n import Catalog, catalog
from handlers.wizard_steps import MAX_ATTACHMENT_BYTES
from storage import files, inbox, option_menus
from storage.reply_journal import Settlement

log = logging.getLogger(__name__)
PLATFORM = "zalo"
MAX_PHOTO_BYTES = MAX_ATTACHMENT_BYTES
GENERATED_FILES_KEPT = dt.timedelta(days=30)
# A photo sent is kept this long unless it becomes an attachment (then it lives as long as the attachment).
UNATTACHED_PHOTO_KEPT = dt.timedelta(days=1)


class ZaloChannel:
    platform = PLATFORM

    def __init__(self, services: Services, client: ZaloClient) -> None:
        self.services = services
        self.client = client
        self._sequencer = KeyedSequencer()
        # Zalo publishes no numbers: stay well below Telegram's, which Zalo's own guidance resembles.
        self.limits = SendLimits(SteadyRate(20), private=(3, 3.0), group=(1, 3.1))
        self.t = catalog(services.config.settings.language)

    # --- receiving -------------------------------------------------------------------------------

    async def run_polling(self) -> None:
        """Long polling until cancelled (the webhook is removed first: Zalo serves one or the other)."""
        await self.client.delete_webhook()
        await self.handle_left_over()
        failures = 0
        while True:
            try:
                messages = await self.client.get_updates(timeout=30)
                keeping = asyncio.ensure_future(self.keep(messages))
                try:  # Zalo forgets what it handed over: a stop in the middle waits until they are kept
                    await asyncio.shield(keeping)
                except asyncio.CancelledError:
                    await keeping
                    raise
                failures = 0
            except (ZaloApiError, aiohttp.ClientError, TimeoutError, SQLAlchemyError) as error:
                failures += 1
                log.warning("Zalo getUpdates failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(2**failures, 30))
                continue
            for message in messages:
                self.submit(message)

    async def keep(self, messages: list[ZaloMessage]) -> None:
        """Write updates to the inbox before they are handled (storage/inbox.py). The webhook answers 200
        only after this; polling cannot do as well: Zalo forgets an update once getUpdates returned it."""
        kept = [(message.update_key, json.dumps(asdict(message), ensure_ascii=False)) for message in messages]
        await inbox.keep(self.services.sessions, PLATFORM, kept, self.services.clock())

    async def handle_left_over(self) -> None:
        """Updates a crash caught between their arrival and their handling."""
        for payload in await inbox.left_over(self.services.sessions, PLATFORM):
            self.submit(ZaloMessage(**json.loads(payload)))

    async def close(self) -> None:
        """Finish queued work, then close the client (called by the runtime after the outbox has stopped)."""
        await self._sequencer.drain()
        await self.client.close()

    def submit(self, message: ZaloMessage) -> None:
        """Queue an update (from polling or the webhook) behind the same person's earlier ones."""
        self._sequencer.submit(message.user_id, lambda: self._handle(message))

    async def _handle(self, message: ZaloMessage) -> None:
        event = await self.event(message)
        try:
            replies = await handle_counted(self.services, event)
        except Exception:
            log.exception("Zalo update %s failed", event.update_key)
            replies = [Reply(text=self.t("err_internal"))]
        services = self.services
        async with Settlement(services.journal, services.sessions, replies, services.clock,
                              services.outbox_changed) as settlement:  # fmt: skip
            for reply in replies:
                if settlement.follows_a_failed_one(reply):
                    continue
                try:
                    await self._send(message.chat_id, reply, bulk=False)
                except (ZaloApiError, aiohttp.ClientError, TimeoutError) as error:
                    if not (transient(error) and settlement.failed(reply)):  # else left to the outbox
                        log.warning("Zalo send to %s refused: %s", message.chat_id, error)
                        settlement.sent(reply)
                else:
                    settlement.sent(reply)

    async def event(self, message: ZaloMessage) -> Event:
        base = {
            "platform": PLATFORM,
            "update_key": message.update_key,
            "user_id": message.user_id,
            "chat_id": message.chat_id,
            "display_name": message.display_name,
            "is_private": not message.is_group,
        }
        if message.event_name == "message.image.received" or (message.photo_url and not message.text):
            ref = await self._keep_photo(message.photo_url)
            return Event(kind=EventKind.FILE, file=ref, **base) if ref else Event(kind=EventKind.UNSUPPORTED, **base)
        text = message.text.strip()
        if not text or message.event_name not in ("message.text.received", ""):
            return Event(kind=EventKind.UNSUPPORTED, **base)
        if message.is_group:  # "@Sáng kiến Bot /linkgroup MAU002": the bot only hears mentions
            slash = text.find("/")
            text = text[slash:] if slash >= 0 else ""
            if not text:
                return Event(kind=EventKind.TEXT, text=message.text, **base)
        if text.startswith("/"):
            command, args = parse_command(text)
            return Event(kind=EventKind.COMMAND, text=text, command=command, args=args, **base)
        payload, several = await self._typed_choice(message.chat_id, text)
        if payload is not None:
            return Event(kind=EventKind.OPTION, payload=payload, text=text, **base)
        nav = None if several else numbered.nav_command(text)
        if nav is not None:
            return Event(kind=EventKind.COMMAND, text=text, command=nav, **base)
        return Event(kind=EventKind.TEXT, text=text, **base)

    async def _typed_choice(self, chat_id: str, text: str) -> tuple[str | None, bool]:
        """The payload of the option the person typed ("2", "2 123", its words), if any; and whether the
        words could be several options (then the step reads them as typed text)."""
        async with self.services.sessions() as session:
            typed = numbered.typed_number(text)
            if typed is not None:
                number, ref = typed
                if not ref:
                    return await self._bare_number(session, chat_id, number), False
                return numbered.pick(await option_menus.find(session, PLATFORM, chat_id, ref), number), False
            words_and_ref = numbered.words_and_ref(text)  # "xác nhận 17": an option of the card #17, by its words
            if words_and_ref is not None:
                words, ref = words_and_ref
                payload = numbered.by_words(await option_menus.find(session, PLATFORM, chat_id, ref), words)
                if payload is not None:
                    return payload, False
            options = await option_menus.find(session, PLATFORM, chat_id)
            payload, several = numbered.by_words(options, text), numbered.ambiguous(options, text)
            if payload is None and not several and not numbered.numbers_answer(options):
                payload = await self._words_listed_earlier(session, chat_id, text, options)
            return payload, several

    async def _bare_number(self, session: AsyncSession, chat_id: str, number: int) -> str | None:
        """A bare "1": an option of the latest menu; but when notices with numbers of their own arrived after it
        (a review card while the chair picks a reason, `/pending`'s cards), of whichever list has that number;
        when the menu and one notice have, a question which one is meant (`WHICH_LIST`): the bare number asked
        again then answers the menu; when several notices have, which card (`WHICH_CARD`); when none has but
        an earlier card's list does, how to answer that card (`NOT_LISTED`); else None: the number is text."""
        latest = await option_menus.find(session, PLATFORM, chat_id)
        if numbered.numbers_answer(latest):  # "15" typed for a day is the day
            return None
        notices = await option_menus.notices_after_latest(session, PLATFORM, chat_id)
        if not notices:
            return numbered.pick(latest, number) or await self._listed_earlier(session, chat_id, number, latest)
        in_latest = numbered.pick(latest, number)
        in_notices = {
            ref: numbered.pick(await option_menus.find(session, PLATFORM, chat_id, ref), number) for ref in notices
        }
        having = [ref for ref, payload in in_notices.items() if payload is not None]
        if len(having) > 1:  # several cards: which card's "1"? (asked again until told, unless a question has it)
            if in_latest is not None:
                await option_menus.forget_notice_after_latest(session, PLATFORM, chat_id)
                await session.commit()
            return f"{WHICH_CARD}{number}:{','.join(having)}:{'q' if in_latest is not None else ''}"
        in_notice = in_notices[having[0]] if having else None
        if in_latest is None or in_notice is None:
            return in_latest or in_notice or await self._listed_earlier(session, chat_id, number, latest)
        await option_menus.forget_notice_after_latest(session, PLATFORM, chat_id)
        await session.commit()
        return f"{WHICH_LIST}{having[0]}:{number}"

    async def _words_listed_earlier(
        self, session: AsyncSession, chat_id: str, text: str, latest: list[list[str]] | None
    ) -> str | None:
        """An option's whole words that no list in view has but earlier cards' lists do («sửa và gửi lại» under
        a notice: it was «Bot chưa hiểu»): where several cards shown since the latest list have it at one
        number, which card (`WHICH_CARD`); where one has it, that option; an older card's only while no
        question is pending (`latest` None: its list may take typed text, a reason); else None."""
        in_view = [(ref, await option_menus.find(session, PLATFORM, chat_id, ref))
                   for ref in await option_menus.notices_after_latest(session, PLATFORM, chat_id)]  # fmt: skip
        found = self._having_words(in_view, text)  # the cards shown since the question, as a bare number
        numbers, refs = {number for _, number, _ in found}, [ref for ref, _, _ in found]
        if len(found) > 1 and len(numbers) == 1 and all(ref.isdigit() for ref in refs):
            return f"{WHICH_CARD}{numbers.pop()}:{','.join(refs)}:"
        if not found and latest is None:  # no question pending: an older list's, if only one has them
            found = self._having_words(await option_menus.shown_with_refs(session, PLATFORM, chat_id), text)
        return found[0][2] if len(found) == 1 else None

    @staticmethod
    def _having_words(lists: Iterable[tuple[str, list[list[str]] | None]], text: str) -> list[tuple[str, int, str]]:
        """(ref, number, payload) of each list with an option whose whole words the text reads as."""
        found = []
        for ref, options in lists:
            number = numbered.exactly(options, text)
            if number is not None and options is not None:
                found.append((ref, number, options[number - 1][1]))
        return found

    async def _listed_earlier(
        self, session: AsyncSession, chat_id: str, number: int, latest: list[list[str]] | None
    ) -> str | None:
        """A bare number no list in view has, that an earlier card's has (its «5» after its «📄 Chi tiết»
        listed 3): the person is told how to answer that card (`NOT_LISTED`); that no list has, while a question's
        list waits: told its numbers, and the list still waits (`BEYOND_LIST`; it was forgotten, so the right number
        typed next answered nothing); else None (the number is text)."""
        for ref, options in await option_menus.shown_with_refs(session, PLATFORM, chat_id):
            if numbered.pick(options, number) is not None:
                return f"{NOT_LISTED}{ref}:{number}"
        return f"{BEYOND_LIST}{number}:{len(latest)}" if latest else None

    async def _keep_photo(self, url: str) -> FileRef | None:
        """Fetch a photo at once (Zalo's URLs expire) and keep it; None if it cannot be fetched."""
        if not url:
            return None
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(url, timeout=aiohttp.ClientTimeout(total=30)) as response,
            ):
                if response.status != 200:
                    raise aiohttp.ClientError(f"status {response.status}")
                received = bytearray()  # read(n) gives what has arrived, up to n: a big photo came cut short
                async for chunk in response.content.iter_chunked(256 * 1024):
                    received += chunk
                    if len(received) > MAX_PHOTO_BYTES:
                        break
                content = bytes(received)
                mime = response.content_type or "image/jpeg"
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("could not fetch a Zalo photo: %s", type(error).__name__)
            return None
        if len(content) > MAX_PHOTO_BYTES:
            return FileRef(file_id="", kind="photo", size_bytes=len(content), mime_type=mime)
        extension = mimetypes.guess_extension(mime) or ".jpg"
        async with self.services.sessions() as session, session.begin():
            stored = await files.store(session, content, f"anh{extension}", mime, self.services.clock(),
                                       UNATTACHED_PHOTO_KEPT)  # fmt: skip
        return FileRef(file_id=stored.token, kind="photo", size_bytes=len(content), mime_type=mime)

    # --- sending ---------------------------------------------------------------------------------

    async def _send(self, chat_id: str, reply: Reply, *, bulk: bool) -> str:
        """Send one reply; the platform's id of the (last) message."""
        if reply.nothing_asked and not bulk:  # the lists shown before answer only with their references now
            async with self.services.sessions() as session, session.begin():
                await option_menus.forget_latest(session, PLATFORM, chat_id)
        elif numbered.choices(reply):  # kept before sending: the answer may come back at once
            # A notice (bulk: from the outbox) arrives while the person may be answering something else:
            # it is answered only with its reference ("1 123"), and a bare "1" still answers the question.
            async with self.services.sessions() as session, session.begin():
                await option_menus.remember(session, PLATFORM, chat_id, numbered.stored(reply), reply.ref,
                                            latest=not bulk or reply.awaits_answer)  # fmt: skip
        t = self._worded_as(reply)
        text = numbered.render(reply, t)
        async with self.limits.slot(chat_id, is_group=False, bulk=bulk):
            if reply.file is None:
                return await self.client.send_message(chat_id, text)
            url = await self._file_url(reply.file)
            if url and reply.file.kind == "photo":
                return await self.client.send_photo(chat_id, url, caption=text)
            name = reply.file.file_name or t(f"file_kind_{reply.file.kind}")
            line = t("zalo_file_link", name=name, url=url) if url else t("zalo_file_unavailable", name=name)
            return await self.client.send_message(chat_id, f"{text}\n{line}" if text else line)

    def _worded_as(self, reply: Reply) -> Catalog:
        """The catalog of the reply's own language: what the channel adds to it is in the same."""
        return catalog(reply.language) if reply.language else self.t

    async def _file_url(self, file: OutgoingFile) -> str | None:
        """Where Zalo can fetch the file: generated bytes are stored; a photo kept from Zalo has its token."""
        public_url = self.services.config.public_url
        if not public_url:
            return None
        async with self.services.sessions() as session, session.begin():
            if file.content is not None:
                mime = mimetypes.guess_type(file.file_name)[0] or "application/octet-stream"
                now = self.services.clock()
                stored = await files.store(session, file.content, file.file_name, mime, now, GENERATED_FILES_KEPT)
            else:
                stored = await files.by_token(session, file.file_id, self.services.clock())
            if stored is None:
                return None
            return f"{public_url}/f/{stored.token}/{stored.file_name}"

    # --- the outbox's Sender ---------------------------------------------------------------------

    async def deliver(self, chat_id: str, reply: Reply, *, answer: bool = False) -> str:
        with _delivery_errors():
            return await self._send(chat_id, reply, bulk=not answer)

    async def replace(self, chat_id: str, message_id: str, reply: Reply) -> None:
        """Zalo cannot edit a sent message: what changed (the replacement's last paragraph) goes out as a
        short new message, naming the initiative it is about."""
        change = reply.text.strip().split("\n\n")[-1]  # markup still: made plain once, when sent
        named = not reply.ref or re.search(rf"#{re.escape(reply.ref)}\b", html_to_plain(change))  # "✏️ Sáng kiến #18: …"
        text = change if named else self._worded_as(reply)("zalo_update_ref", ref=reply.ref, text=change)
        with _delivery_errors():
            await self._send(chat_id, Reply(text=text, language=reply.language), bulk=True)


@contextlib.contextmanager
def _delivery_errors() -> Iterator[None]:
    """Translate Zalo's errors into the outbox's: retry later, unreachable, or refused."""
    try:
        yield
    except ZaloApiError as error:
        if error.code == 429:
            raise RetryLater(30, str(error), rate_limited=True) from error
        if error.code >= 500:
            raise RetryLater(5, str(error)) from error
        if error.code == 403 or "chat not found" in error.description:
            raise Unreachable(str(error)) from error
        raise Rejected(str(error)) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise RetryLater(5, str(error)) from error
