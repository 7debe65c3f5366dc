"""aiogram imported with its types built when first used (bot/channels/lazy_aiogram.py): none is built at
import, and every type and method aiogram has can still be built and read a real update."""

from __future__ import annotations

from tests.harness import in_a_fresh_interpreter

_IN_A_FRESH_PROCESS = """
import json
import pydantic
import bot.channels  # what every runtime imports before aiogram
import aiogram.methods as methods
import aiogram.types as types

def models(package):
    found = (getattr(package, name) for name in package.__all__)
    return [m for m in found if isinstance(m, type) and issubclass(m, pydantic.BaseModel)]

built_at_import = [m.__name__ for m in models(types) if m.__pydantic_complete__]


def reads_a_message(payload):
    User = "a local that shares a type's name"  # the first build must not take it for aiogram's User
    return types.Message.model_validate(payload).from_user.first_name

first = reads_a_message({"message_id": 1, "date": 1700000000, "chat": {"id": 42, "type": "private"},
                         "from": {"id": 42, "is_bot": False, "first_name": "An"}})
failed = []
for model in models(methods) + models(types):  # a method first meets its types unbuilt, as at run time
    try:
        model.model_rebuild()
    except Exception as error:
        failed.append(f"{model.__name__}: {error}")
update = types.Update.model_validate({"update_id": 7, "message": {
    "message_id": 3, "date": 1700000000, "chat": {"id": 42, "type": "private"},
    "from": {"id": 42, "is_bot": False, "first_name": "Hoa"}, "text": "/start b_MAU002",
    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    "reply_markup": {"inline_keyboard": [[{"text": "Gửi", "callback_data": "d:s:1"}]]}}})
scope = methods.SetMyCommands(commands=[types.BotCommand(command="new", description="Tạo")],
                              scope=types.BotCommandScopeChat(chat_id=42))
print(json.dumps({"types": len(models(types)), "built_at_import": built_at_import, "failed": failed,
                  "read": [first, update.message.from_user.first_name, update.message.entities[0].type,
                           update.message.reply_markup.inline_keyboard[0][0].callback_data,
                           scope.scope.chat_id]}))
"""


def test_aiogram_builds_no_type_at_import_and_every_one_when_used() -> None:
    found = in_a_fresh_interpreter(_IN_A_FRESH_PROCESS)
    assert found["types"] > 300
    assert found["built_at_import"] == [], "aiogram built its types at import: 80 MB and a second in every process"
    assert found["failed"] == [], "a type or method that cannot be built fails the first request that meets it"
    assert found["read"] == ["An", "Hoa", "bot_command", "d:s:1", 42]
