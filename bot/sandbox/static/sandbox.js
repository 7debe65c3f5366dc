// Sandbox chat page: talks to the local Telegram emulator (/_emu/) or the Zalo emulator (/zalo/_emu/).
// Telegram shows buttons and a menu keyboard; Zalo has neither, so its messages are plain text with
// numbered options, as on a real phone. No build step.
"use strict";
const chat = document.getElementById("chat");
const menu = document.getElementById("menu");
const channelSelect = document.getElementById("channel");
const personaSelect = document.getElementById("persona");
const chatSelect = document.getElementById("chat-choice");
const attachButton = document.getElementById("attach");
const input = document.getElementById("text");
const CHANNELS = {
  telegram: {api: "/_emu", label: "Telegram"},
  zalo: {api: "/zalo/_emu", label: "Zalo"},
};
const directory = {};  // channel → {personas, groups}
const names = new Map();
let channel = "telegram";
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

function base() {
  return CHANNELS[channel].api;
}

function linkified(text) {
  // Zalo shows plain text; links (review pages, documents) become tappable.
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/\S+/g)) {
    fragment.appendChild(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = match[0];
    link.target = "_blank";
    link.textContent = match[0];
    fragment.appendChild(link);
    last = match.index + match[0].length;
  }
  fragment.appendChild(document.createTextNode(text.slice(last)));
  return fragment;
}

function renderMessage(message) {
  const key = message.message_id + (message.from_bot ? "b" : "u");
  let node = rendered.get(key);
  if (!node) {
    node = document.createElement("div");
    node.className = "msg " + (message.from_bot ? "bot" : "user");
    node.dataset.messageId = message.message_id;
    rendered.set(key, node);
    chat.appendChild(node);
  }
  node.innerHTML = "";
  if (chatId !== userId && !message.from_bot) {
    const sender = document.createElement("div");
    sender.className = "sender";
    sender.textContent = names.get(String(message.sender_id)) || "?";
    node.appendChild(sender);
  }
  const body = document.createElement("div");
  body.className = "text";
  if (channel === "zalo") {
    if (message.photo_url) {
      const image = document.createElement("img");
      image.src = message.photo_url;
      image.alt = "ảnh";
      image.className = "photo";
      node.appendChild(image);
    }
    body.appendChild(linkified(message.text));
  } else if (message.from_bot) {
    if (message.photo_file_id) {
      const image = document.createElement("img");
      image.src = "/_emu/files/" + encodeURIComponent(message.photo_file_id);
      image.alt = "ảnh";
      image.className = "photo";
      node.appendChild(image);
    }
    body.innerHTML = message.text;  // the emulator accepted it as Telegram HTML
  } else {
    body.textContent = message.document ? "📎 " + message.text : (message.photo ? "🖼 ảnh" : message.text);
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
        const b = document.createElement(button.url ? "a" : "button");
        b.textContent = button.text;
        if (button.url) {
          b.href = button.url;
          b.target = "_blank";
          b.className = "link-button";
        } else {
          b.type = "button";
          b.onclick = () => api("/_emu/press", {
            user_id: userId, chat_id: chatId, message_id: message.message_id, data: button.callback_data,
          });
        }
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
      const data = await api(`${base()}/chats/${chatId}?since=${since}&timeout=25`);
      if (myGeneration !== generation) return;
      for (const message of data.messages) renderMessage(message);
      since = Math.max(since, ...data.messages.map(m => m.seq), since);
    } catch (error) {
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  }
}

function send(body) {
  return api(`${base()}/send`, {user_id: userId, chat_id: chatId, ...body});
}

function fill(select, entries) {
  select.innerHTML = "";
  for (const [value, label] of entries) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    select.appendChild(option);
  }
}

async function openChannel(name) {
  channel = name;
  document.body.dataset.channel = name;
  attachButton.hidden = name === "zalo";  // Zalo carries photos, not documents
  const {personas, groups} = directory[name];
  fill(personaSelect, personas.map(p => [p.id, p.name + " (mẫu)"]));
  fill(chatSelect, [["private", "💬 Riêng với bot"], ...groups.map(g => [g.id, "👥 " + g.title])]);
  await choosePersona();
}

async function choosePersona() {
  userId = channel === "zalo" ? personaSelect.value : Number(personaSelect.value);
  const choice = chatSelect.value;
  await openChat(choice === "private" ? userId : (channel === "zalo" ? choice : Number(choice)));
}

async function openChat(id) {
  chatId = id;
  since = 0;
  generation += 1;
  rendered.clear();
  chat.innerHTML = "";
  menu.innerHTML = "";
  const history = await api(`${base()}/chats/${chatId}?since=0&timeout=0`);
  for (const message of history.messages) renderMessage(message);
  since = history.seq;
  // As Telegram's START button: a person who never wrote here (new, or the seeded chair, who has only
  // received cards) starts the conversation, and so gets the welcome and the menu of their role.
  if (chatId === userId && !history.messages.some(message => !message.from_bot)) await send({text: "/start"});
  poll(generation);
}

const composer = document.getElementById("composer");
composer.addEventListener("submit", event => {
  event.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  fitInput();
  send({text});
});
// Enter sends, Shift+Enter starts a new line (a solution is written in several lines); the box grows.
input.addEventListener("keydown", event => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});
function fitInput() {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 160) + "px";
}
input.addEventListener("input", fitInput);
attachButton.onclick = () =>
  send({document: {file_name: "bao-cao-sang-kien.pdf", mime_type: "application/pdf", file_size: 245000}});
document.getElementById("photo").onclick = () => send({photo: true});
channelSelect.addEventListener("change", () => openChannel(channelSelect.value));
personaSelect.addEventListener("change", () => choosePersona());
chatSelect.addEventListener("change", () => choosePersona());

Promise.all(Object.values(CHANNELS).map(c => Promise.all([api(`${c.api}/personas`), api(`${c.api}/groups`)])))
  .then(results => {
    Object.keys(CHANNELS).forEach((name, i) => {
      const [personas, groups] = results[i];
      directory[name] = {personas, groups};
      for (const person of personas) names.set(String(person.id), person.name);
    });
    fill(channelSelect, Object.entries(CHANNELS).map(([name, c]) => [name, c.label]));
    openChannel("telegram");
  });
