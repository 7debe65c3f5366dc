"""The channels (Telegram, Zalo) behind one interface. aiogram is imported here first, with its types built
when first used (bot/channels/lazy_aiogram.py)."""

from bot.channels.lazy_aiogram import import_aiogram

import_aiogram()
