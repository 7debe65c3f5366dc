"""A bare aiogram echo bot: the baseline the submission benchmark compares the real bot with."""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Message


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> None:
        # Telegram allows about one message a second per chat: a well-behaved bot waits when told to.
        while True:
            try:
                await message.answer(message.text or "?")
                return
            except TelegramRetryAfter as error:
                await asyncio.sleep(error.retry_after)

    await dispatcher.start_polling(bot, handle_signals=False)


if __name__ == "__main__":
    asyncio.run(main())
