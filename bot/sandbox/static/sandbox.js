// Sandbox chat page: talks to the local Bot API emulator's /_emu/ JSON API. No build step.
"use strict";
const chat = document.getElementById("chat");
const menu = document.getElementById("menu");
const personaSelect = document.getElementById("persona");
const chatSelect = document.getElementById("chat-choice");
const input = document.getElementById("text");
const names = new Map();
let userId = null;
let chatId = null;  // the person's private chat (= userId) or a group's id
let since = 0;
let generation = 0;
const rendered = new Map();

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

function renderMessage(message) {
  let node = rendered.get(message.message_id + (message.from_bot ? "b" : "u"));
  if (!node) {
    node = document.createElement("div");
    node.className = "msg " + (message.from_bot ? "bot" : "user");
    node.dataset.messageId = message.message_id;
    rendered.set(message.message_id + (message.from_bot ? "b" : "u"), node);
    chat.appendChild(node);
  }
  node.innerHTML = "";
  const body = document.createElement("div");
  body.className = "text";
  if (message.from_bot) body.innerHTML = message.text;  // the emulator accepted it as Telegram HTML
  else body.textContent = message.document ? "📎 " + message.text : (message.photo ? "🖼 ảnh" : message.text);
  if (chatId !== userId && !message.from_bot) {
    const sender = document.createElement("div");
    sender.className = "sender";
    sender.textContent = names.get(message.sender_id) || "?";
    node.appendChild(sender);
  }
  node.appendChild(body);
  if (message.from_bot && message.document && message.document.file_name) {
    const link = document.createElement("a");
    link.href = "/_emu/files/" + encodeURIComponent(message.document.file_id);
    link.textContent = message.document.file_name;
    link.download = message.document.file_name;
    link.className = "file";
    node.appendChild(link);
  }
  const markup = message.reply_markup || {};
  if (markup.inline_keyboard) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of markup.inline_keyboard) {
      const rowNode = document.createElement("div");
      rowNode.className = "row";
      for (const button of row) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = button.text;
        b.onclick = () => api("/_emu/press", {
          user_id: userId, chat_id: chatId, message_id: message.message_id, data: button.callback_data,
        });
        rowNode.appendChild(b);
      }
      box.appendChild(rowNode);
    }
    node.appendChild(box);
  }
  if (markup.keyboard) renderMenu(markup.keyboard);
  chat.scrollTop = chat.scrollHeight;
}

function renderMenu(keyboard) {
  menu.innerHTML = "";
  for (const row of keyboard) for (const button of row) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = button.text;
    b.onclick = () => send({text: button.text});
    menu.appendChild(b);
  }
}

async function poll(myGeneration) {
  while (myGeneration === generation) {
    try {
      const data = await api(`/_emu/chats/${chatId}?since=${since}&timeout=25`);
      if (myGeneration !== generation) return;
      for (const message of data.messages) renderMessage(message);
      since = Math.max(since, ...data.messages.map(m => m.seq), since);
    } catch (error) {
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  }
}

function send(body) {
  return api("/_emu/send", {user_id: userId, chat_id: chatId, ...body});
}

async function choosePersona(id) {
  userId = Number(id);
  await openChat(chatSelect.value === "private" ? userId : Number(chatSelect.value));
}

async function openChat(id) {
  chatId = id;
  since = 0;
  generation += 1;
  rendered.clear();
  chat.innerHTML = "";
  menu.innerHTML = "";
  const history = await api(`/_emu/chats/${chatId}?since=0&timeout=0`);
  for (const message of history.messages) renderMessage(message);
  since = history.seq;
  if (!history.messages.length && chatId === userId) await send({text: "/start"});
  poll(generation);
}

document.getElementById("composer").addEventListener("submit", event => {
  event.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  send({text});
});
document.getElementById("attach").onclick = () =>
  send({document: {file_name: "bao-cao-sang-kien.pdf", mime_type: "application/pdf", file_size: 245000}});
document.getElementById("photo").onclick = () => send({photo: true});
personaSelect.addEventListener("change", () => choosePersona(personaSelect.value));
chatSelect.addEventListener("change", () => choosePersona(personaSelect.value));

function addOption(select, value, label) {
  const option = document.createElement("option");
  option.value = value;
  option.textContent = label;
  select.appendChild(option);
}

Promise.all([api("/_emu/personas"), api("/_emu/groups")]).then(([personas, groups]) => {
  for (const persona of personas) {
    names.set(persona.id, persona.name);
    addOption(personaSelect, persona.id, persona.name + " (mẫu)");
  }
  addOption(chatSelect, "private", "💬 Riêng với bot");
  for (const group of groups) addOption(chatSelect, group.id, "👥 " + group.title);
  choosePersona(personaSelect.value);
});
