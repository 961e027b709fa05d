// The sandbox web chat: a Telegram-like client for the local fake Bot API.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
// Safety rule: text from people and from the bot is only ever put into the page as text
// (textContent); the bot's message HTML is rebuilt element by element from Telegram's
// short list of formatting tags, so nothing else (scripts, handlers, styles) can get in.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };

  const LANGUAGES = { kk: "Қазақша", ky: "Кыргызча", ru: "Русский", en: "English" };

  // The sandbox's own controls follow the browser's language (kk, ky, ru, else English);
  // the chats show what the bot sends, in each persona's language.
  const UI = {
    en: {
      badge: "Sandbox", note: "The real bot against a local test server. Nothing reaches Telegram.",
      clock: "Bot time", h1: "+1 h", d1: "+1 day", w1: "+1 week", min: "min", hours: "hours",
      days: "days", move: "Move", actAs: "Act as", reset: "Reset sandbox",
      resetAsk: "Start again from nothing? Every chat and the sandbox database are cleared.",
      foot: "Same code and handlers as production · demo catalogue · its own SQLite file under data/sandbox/",
      reconnecting: "Reconnecting…", noMessages: "No messages yet", youAre: "You are",
      whatCan: "What can this bot do?", pressStart: "Press Start to begin.",
      staffIntro: "New applications arrive here. You act as the coordinator.",
      start: "Start", message: "Message", osm: "Open in OpenStreetMap ↗",
      unsupported: "Not supported in the sandbox", ahead: "ahead", realTime: "real time",
      moved: "Bot time moved forward", d: "d", h: "h",
    },
    ru: {
      badge: "Песочница", note: "Настоящий бот и локальный тестовый сервер. В Telegram ничего не уходит.",
      clock: "Время бота", h1: "+1 ч", d1: "+1 день", w1: "+1 неделя", min: "мин", hours: "ч",
      days: "дн.", move: "Сдвинуть", actAs: "Действовать как", reset: "Сбросить песочницу",
      resetAsk: "Начать заново? Все чаты и база данных песочницы будут очищены.",
      foot: "Тот же код и обработчики, что в работе · демо-каталог · свой файл SQLite в data/sandbox/",
      reconnecting: "Переподключение…", noMessages: "Сообщений пока нет", youAre: "Вы —",
      whatCan: "Что умеет этот бот?", pressStart: "Нажмите «Начать».",
      staffIntro: "Сюда приходят новые заявки. Вы — координатор.",
      start: "Начать", message: "Сообщение", osm: "Открыть в OpenStreetMap ↗",
      unsupported: "В песочнице не поддерживается", ahead: "вперёд", realTime: "реальное время",
      moved: "Время бота сдвинуто вперёд", d: "д", h: "ч",
    },
    kk: {
      badge: "Құмсалғыш", note: "Нақты бот және жергілікті тест сервері. Telegram-ға ештеңе жіберілмейді.",
      clock: "Бот уақыты", h1: "+1 сағ", d1: "+1 күн", w1: "+1 апта", min: "мин", hours: "сағ",
      days: "күн", move: "Жылжыту", actAs: "Кім ретінде", reset: "Құмсалғышты тазарту",
      resetAsk: "Басынан бастау керек пе? Барлық чаттар мен құмсалғыш дерекқоры тазартылады.",
      foot: "Жұмыстағыдай код пен өңдегіштер · демо каталог · data/sandbox/ ішіндегі өз SQLite файлы",
      reconnecting: "Қайта қосылуда…", noMessages: "Әзірге хабарлама жоқ", youAre: "Сіз —",
      whatCan: "Бұл бот не істей алады?", pressStart: "Бастау батырмасын басыңыз.",
      staffIntro: "Жаңа өтінімдер осында келеді. Сіз — үйлестірушісіз.",
      start: "Бастау", message: "Хабарлама", osm: "OpenStreetMap-та ашу ↗",
      unsupported: "Құмсалғышта қолдау жоқ", ahead: "алда", realTime: "нақты уақыт",
      moved: "Бот уақыты алға жылжытылды", d: "күн", h: "сағ",
    },
    ky: {
      badge: "Кумкана", note: "Чыныгы бот жана жергиликтүү тест сервери. Telegram'га эч нерсе жөнөтүлбөйт.",
      clock: "Боттун убактысы", h1: "+1 саат", d1: "+1 күн", w1: "+1 жума", min: "мүн",
      hours: "саат", days: "күн", move: "Жылдыруу", actAs: "Ким катары", reset: "Кумкананы тазалоо",
      resetAsk: "Башынан баштайлыбы? Бардык чаттар жана кумкананын маалымат базасы тазаланат.",
      foot: "Иштегидей код жана иштетүүчүлөр · демо каталог · data/sandbox/ ичиндеги өз SQLite файлы",
      reconnecting: "Кайра туташууда…", noMessages: "Азырынча билдирүү жок", youAre: "Сиз —",
      whatCan: "Бул бот эмне кыла алат?", pressStart: "Баштоо баскычын басыңыз.",
      staffIntro: "Жаңы өтүнмөлөр ушул жерге келет. Сиз — координаторсуз.",
      start: "Баштоо", message: "Билдирүү", osm: "OpenStreetMap'та ачуу ↗",
      unsupported: "Кумканада колдоо жок", ahead: "алдыда", realTime: "чыныгы убакыт",
      moved: "Боттун убактысы алдыга жылдырылды", d: "күн", h: "саат",
    },
  };
  const UI_LANG = (() => {
    for (const code of navigator.languages || [navigator.language || "en"]) {
      const base = String(code).toLowerCase().split("-")[0];
      if (base in UI) return base;
    }
    return "en";
  })();
  const tr = (key) => UI[UI_LANG][key] ?? UI.en[key] ?? key;

  function translatePage() {
    document.documentElement.lang = UI_LANG;
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      node.textContent = tr(node.dataset.i18n);
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
      node.placeholder = tr(node.dataset.i18nPlaceholder);
    });
  }
  const AVATAR_COLOURS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
  const PHONE = window.matchMedia("(max-width: 760px)");

  const state = {
    bot: { name: "Bot", username: "" },
    chats: [],
    byKey: new Map(),
    current: null, // chat key
    replyTo: null, // id of the message the next text replies to
    messages: new Map(), // message id -> data, for the current chat
    keyboard: null, // reply keyboard of the current chat
    keyboardOpen: true,
    commands: [],
    unread: new Map(),
    buffer: null, // events for the current chat while its history loads
    pending: new Map(), // callback query id -> button element
    clockOffset: 0,
    typingTimer: null,
    socket: null,
    retry: 0,
  };

  // ------------------------------------------------------------------ API

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: {} };
    if (options.json !== undefined) {
      init.method = options.method || "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    } else if (options.form) {
      init.method = "POST";
      init.body = options.form;
    }
    const response = await fetch(path, init);
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = new Error((body && body.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  const chatPath = (key, tail = "") => `/api/chats/${encodeURIComponent(key)}${tail}`;

  async function act(promise) {
    try {
      return await promise;
    } catch (error) {
      toast(error.message || String(error), "error");
      return null;
    }
  }

  // ------------------------------------------------------------------ safe HTML

  const KEEP = new Set(["B", "STRONG", "I", "EM", "U", "INS", "S", "STRIKE", "DEL", "CODE", "PRE", "BLOCKQUOTE"]);
  const LINK_SCHEMES = /^(https?:|tg:|mailto:)/i;
  const AUTO = /(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])|((?<![\w/])\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/]))/g;

  function richText(html, clickableCommands) {
    const template = document.createElement("template");
    template.innerHTML = html; // inert: parsed, never run or loaded
    const out = document.createDocumentFragment();
    copy(template.content, out, clickableCommands, false);
    return out;
  }

  function copy(source, target, commands, inCode) {
    for (const node of source.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        target.appendChild(inCode ? document.createTextNode(node.data) : linkify(node.data, commands));
        continue;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const tag = node.tagName;
      let made = null;
      if (KEEP.has(tag)) {
        made = document.createElement(tag.toLowerCase());
        if (tag === "BLOCKQUOTE" && node.hasAttribute("expandable")) made.className = "expandable";
      } else if (tag === "A") {
        const href = node.getAttribute("href") || "";
        if (LINK_SCHEMES.test(href)) {
          made = document.createElement("a");
          made.href = href;
          made.target = "_blank";
          made.rel = "noopener noreferrer";
        } else {
          made = el("span", "bad-link");
        }
      } else if (tag === "TG-SPOILER" || (tag === "SPAN" && node.classList.contains("tg-spoiler"))) {
        made = el("span", "spoiler");
        made.title = "Spoiler: click to show";
        made.addEventListener("click", () => made.classList.add("shown"), { once: true });
      }
      if (made === null) {
        copy(node, target, commands, inCode); // unknown tags (tg-emoji, …): their text only
        continue;
      }
      copy(node, made, commands, inCode || tag === "CODE" || tag === "PRE" || tag === "A");
      target.appendChild(made);
    }
  }

  function linkify(text, commands) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(AUTO)) {
      if (match.index > last) fragment.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1]) {
        const link = el("a", null, match[1]);
        link.href = match[1];
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        fragment.appendChild(link);
      } else if (commands) {
        const command = el("a", "command", match[2]);
        command.href = "#";
        command.addEventListener("click", (event) => {
          event.preventDefault();
          sendCommandText(match[2]);
        });
        fragment.appendChild(command);
      } else {
        fragment.appendChild(document.createTextNode(match[2]));
      }
      last = match.index + match[0].length;
    }
    if (last < text.length) fragment.appendChild(document.createTextNode(text.slice(last)));
    return fragment;
  }

  // ------------------------------------------------------------------ small views

  function initials(name) {
    const parts = name.split(/\s+/).filter(Boolean);
    return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : "")).toUpperCase();
  }

  function avatar(node, name, seed, kind) {
    node.textContent = kind === "group" ? "👥" : initials(name);
    node.style.background = kind === "bot" ? "" : AVATAR_COLOURS[Math.abs(seed) % AVATAR_COLOURS.length];
  }

  const time = (seconds) =>
    new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  function day(seconds) {
    const date = new Date(seconds * 1000);
    return date.toLocaleDateString([], { weekday: "short", day: "numeric", month: "long", year: "numeric" });
  }

  function size(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function preview(message) {
    if (!message) return "";
    const template = document.createElement("template");
    template.innerHTML = message.html || "";
    const text = (template.content.textContent || "").replace(/\s+/g, " ").trim();
    const media = {
      photo: "🖼 Photo",
      document: `📄 ${(message.file && message.file.name) || "File"}`,
      venue: `📍 ${(message.venue && message.venue.title) || "Location"}`,
      location: "📍 Location",
      contact: "👤 Contact",
      sticker: `${message.emoji || ""} Sticker`,
    }[message.kind];
    const body = media ? (text ? `${media}, ${text}` : media) : text;
    return message.sender === "user" ? `You: ${body}` : body;
  }

  function toast(text, kind = "info") {
    // One at a time, as in Telegram: a new toast replaces the one still showing.
    const node = el("div", `toast toast-${kind}`, text);
    $("toasts").replaceChildren(node);
    setTimeout(() => node.classList.add("leaving"), 2600);
    setTimeout(() => node.remove(), 3000);
  }

  function alertBox(text) {
    $("alert-text").textContent = text;
    const dialog = $("alert");
    if (!dialog.open) dialog.showModal();
  }

  // ------------------------------------------------------------------ chat list

  function renderList() {
    const list = $("chat-list");
    list.replaceChildren();
    for (const chat of state.chats) {
      const item = el("button", "chat-item");
      item.type = "button";
      item.dataset.key = chat.key;
      item.setAttribute("aria-current", chat.key === state.current ? "true" : "false");
      const face = el("div", "avatar");
      avatar(face, chat.kind === "group" ? chat.title : chat.persona.name, chat.persona.user_id + (chat.kind === "group" ? 3 : 0), chat.kind);
      const body = el("div", "chat-item-body");
      const top = el("div", "chat-item-top");
      top.appendChild(el("span", "chat-item-name", chat.kind === "group" ? chat.title : chat.persona.name));
      if (chat.last) top.appendChild(el("span", "chat-item-time", time(chat.last.date)));
      const tags = el("div", "chat-item-tags");
      if (chat.kind === "group") {
        tags.appendChild(el("span", "tag tag-staff", "group"));
        tags.appendChild(el("span", "tag", `as ${chat.persona.first_name}`));
      } else {
        tags.appendChild(el("span", `tag tag-${chat.persona.role}`, chat.persona.role));
        tags.appendChild(el("span", "tag tag-lang", `${chat.persona.language_code} · ${LANGUAGES[chat.persona.language_code] || ""}`));
      }
      const bottom = el("div", "chat-item-bottom");
      bottom.appendChild(el("span", "chat-item-preview", preview(chat.last) || tr("noMessages")));
      const unread = state.unread.get(chat.key) || 0;
      if (unread) bottom.appendChild(el("span", "badge", String(unread)));
      body.append(top, tags, bottom);
      item.append(face, body);
      item.addEventListener("click", () => openChat(chat.key));
      list.appendChild(item);
    }
  }

  function chatsFor(chatId) {
    return state.chats.filter((chat) => chat.chat_id === chatId);
  }

  // ------------------------------------------------------------------ one chat

  async function openChat(key, { push = true } = {}) {
    const chat = state.byKey.get(key);
    if (!chat) return;
    state.current = key;
    setReplyTo(null);
    state.unread.delete(key);
    if (push && location.hash !== `#${key}`) history.replaceState(null, "", `#${key}`);
    document.getElementById("app").className = "app show-chat";
    $("chat").dataset.chat = key;
    renderHeader(chat);
    renderList();
    // Events for this chat that arrive while its history loads wait, then apply on top.
    state.messages = new Map();
    state.buffer = [];
    $("messages").replaceChildren();
    const data = await act(api(chatPath(key)));
    if (!data || state.current !== key) return;
    const waiting = state.buffer;
    state.buffer = null;
    for (const message of data.messages) upsertMessage(message);
    for (const event of waiting) onMessage(event);
    state.commands = data.commands || [];
    state.description = data.description;
    state.keyboardOpen = true;
    setKeyboard(data.reply_keyboard);
    renderEmptyState();
    scrollToEnd(true);
    if (!PHONE.matches) $("input").focus();
  }

  function renderHeader(chat) {
    const group = chat.kind === "group";
    $("chat-title").textContent = group ? chat.title : state.bot.name;
    $("chat-sub").textContent = group ? "group · the bot is an administrator" : "bot";
    avatar($("chat-avatar"), group ? chat.title : state.bot.name, chat.persona.user_id + 3, group ? "group" : "bot");
    $("chat-avatar").textContent = group ? "👥" : "🎓";
    const acting = $("acting-as");
    acting.replaceChildren(
      el("span", "acting-label", tr("youAre")),
      el("strong", null, chat.persona.name),
      el("span", "tag tag-lang", chat.persona.language_code),
    );
    acting.title = `${chat.persona.name} · Telegram in ${LANGUAGES[chat.persona.language_code] || chat.persona.language_code} · ${chat.persona.role}`;
    $("menu-button").hidden = true;
    $("command-menu").hidden = true;
  }

  function renderEmptyState() {
    const chat = state.byKey.get(state.current);
    const empty = state.messages.size === 0;
    const container = $("messages");
    container.querySelector(".intro")?.remove();
    if (empty) {
      const intro = el("div", "intro");
      if (chat.kind === "private") {
        intro.appendChild(el("strong", null, tr("whatCan")));
        intro.appendChild(el("p", null, state.description || tr("pressStart")));
      } else {
        intro.appendChild(el("strong", null, chat.title));
        intro.appendChild(el("p", null, tr("staffIntro")));
      }
      container.appendChild(intro);
    }
    const showStart = empty && chat.kind === "private";
    $("start-bar").hidden = !showStart;
    $("composer").hidden = showStart;
    $("menu-button").hidden = showStart || state.commands.length === 0;
  }

  function atBottom() {
    const box = $("messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  }

  function scrollToEnd(force = false) {
    const box = $("messages");
    const near = box.scrollHeight - box.scrollTop - box.clientHeight < 240;
    if (force || near) box.scrollTop = box.scrollHeight;
  }

  function upsertMessage(message) {
    const container = $("messages");
    const old = container.querySelector(`.msg[data-id="${message.id}"]`);
    state.messages.set(message.id, message);
    const node = renderMessage(message);
    if (old) {
      old.replaceWith(node);
      return;
    }
    const all = container.querySelectorAll(".msg");
    const last = all.length ? all[all.length - 1] : null;
    const lastDate = last ? Number(last.dataset.date) : null;
    if (lastDate === null || new Date(lastDate * 1000).toDateString() !== new Date(message.date * 1000).toDateString()) {
      container.appendChild(el("div", "day", day(message.date)));
    }
    container.appendChild(node);
  }

  function renderMessage(message) {
    const chat = state.byKey.get(state.current);
    const mine = message.sender === "user";
    const wrap = el("div", `msg ${mine ? "msg-out" : "msg-in"} kind-${message.kind}`);
    wrap.dataset.id = String(message.id);
    wrap.dataset.date = String(message.date);
    const bubble = el("div", "bubble");
    if (chat.kind === "group" && !mine) bubble.appendChild(el("div", "author", message.sender_name));
    if (message.forwarded_from) bubble.appendChild(el("div", "forwarded", `Forwarded from ${message.forwarded_from}`));
    if (message.reply_to) {
      const quoted = state.messages.get(message.reply_to);
      const quote = el("div", "reply-quote", quoted ? preview(quoted).replace(/^You: /, "") : "Message");
      bubble.appendChild(quote);
    }
    const media = renderMedia(message);
    if (media) bubble.appendChild(media);
    if (message.html) {
      const text = el("div", "text");
      text.appendChild(richText(message.html, !mine));
      bubble.appendChild(text);
    }
    const meta = el("span", "meta");
    // Reply to this message (a Telegram reply): how staff answer a citizen's question.
    const reply = el("button", "reply-action", "↩");
    reply.type = "button";
    reply.title = "Reply";
    reply.setAttribute("aria-label", "Reply to this message");
    reply.addEventListener("click", () => setReplyTo(message.id));
    meta.appendChild(reply);
    if (message.edited) meta.appendChild(el("span", "edited", "edited"));
    meta.appendChild(el("time", null, time(message.date)));
    if (mine) meta.appendChild(el("span", "ticks", "✓✓"));
    bubble.appendChild(meta);
    wrap.appendChild(bubble);
    if (message.inline_keyboard && message.inline_keyboard.length) {
      wrap.appendChild(renderInlineKeyboard(message));
    }
    return wrap;
  }

  function renderMedia(message) {
    if (message.venue || message.location) {
      const place = message.venue || message.location;
      const card = el("a", "place");
      card.href = place.map_url;
      card.target = "_blank";
      card.rel = "noopener noreferrer";
      const pin = el("div", "place-map");
      pin.appendChild(el("span", "place-pin", "📍"));
      card.appendChild(pin);
      const info = el("div", "place-info");
      if (message.venue) {
        info.appendChild(el("strong", null, message.venue.title));
        info.appendChild(el("span", null, message.venue.address));
      } else {
        info.appendChild(el("strong", null, "Location"));
        info.appendChild(el("span", null, `${place.latitude.toFixed(5)}, ${place.longitude.toFixed(5)}`));
      }
      info.appendChild(el("span", "place-link", tr("osm")));
      card.appendChild(info);
      return card;
    }
    if (message.contact) {
      const card = el("div", "contact");
      const face = el("div", "avatar avatar-small");
      avatar(face, message.contact.name || "?", message.sender_id, "user");
      const info = el("div", "contact-info");
      info.appendChild(el("strong", null, message.contact.name));
      info.appendChild(el("span", null, message.contact.phone_number));
      card.append(face, info);
      return card;
    }
    if (message.kind === "sticker" && message.emoji) return el("div", "sticker", message.emoji);
    if (!message.file) return null;
    if (message.file.is_image) {
      const link = el("a", "photo");
      link.href = message.file.url;
      link.target = "_blank";
      link.rel = "noopener";
      const image = el("img");
      image.src = message.file.url;
      image.alt = message.kind === "photo" ? "Photo" : "Image";
      image.loading = "lazy";
      image.addEventListener("load", () => scrollToEnd());
      link.appendChild(image);
      return link;
    }
    const file = el("a", "file");
    file.href = `${message.file.url}?download=1`;
    file.download = message.file.name;
    file.appendChild(el("span", "file-icon", (message.file.name.split(".").pop() || "file").slice(0, 4)));
    const info = el("span", "file-info");
    info.appendChild(el("strong", "file-name", message.file.name));
    info.appendChild(el("span", "file-size", `${size(message.file.size)} · Download`));
    file.appendChild(info);
    return file;
  }

  function renderInlineKeyboard(message) {
    const keyboard = el("div", "inline-keyboard");
    for (const row of message.inline_keyboard) {
      const line = el("div", "inline-row");
      for (const button of row) {
        const node = el("button", "inline-button", button.text);
        node.type = "button";
        if (button.url) {
          node.classList.add("inline-url");
          node.addEventListener("click", () => {
            if (/^https?:/i.test(button.url)) window.open(button.url, "_blank", "noopener");
          });
        } else if (button.callback_data !== undefined) {
          node.addEventListener("click", () => pressInline(message, button, node));
        } else {
          node.disabled = true;
          node.title = tr("unsupported");
        }
        line.appendChild(node);
      }
      keyboard.appendChild(line);
    }
    return keyboard;
  }

  async function pressInline(message, button, node) {
    if (node.classList.contains("loading")) return;
    node.classList.add("loading");
    const result = await act(api(chatPath(state.current, "/callbacks"), {
      json: { message_id: message.id, data: button.callback_data },
    }));
    if (!result) {
      node.classList.remove("loading");
      return;
    }
    state.pending.set(result.query_id, node);
    setTimeout(() => {
      if (state.pending.get(result.query_id) === node) {
        state.pending.delete(result.query_id);
        node.classList.remove("loading");
      }
    }, 15000);
  }

  // ------------------------------------------------------------------ reply keyboard, commands

  function setKeyboard(keyboard) {
    state.keyboard = keyboard;
    const box = $("reply-keyboard");
    box.replaceChildren();
    $("keyboard-toggle").hidden = !keyboard;
    $("input").placeholder = (keyboard && keyboard.placeholder) || "Message";
    if (!keyboard) {
      box.hidden = true;
      return;
    }
    for (const row of keyboard.rows) {
      const line = el("div", "reply-row");
      for (const button of row) {
        const node = el("button", "reply-button", button.text);
        node.type = "button";
        if (button.request_contact) node.classList.add("reply-contact");
        node.addEventListener("click", () => pressReply(button));
        line.appendChild(node);
      }
      box.appendChild(line);
    }
    box.hidden = !state.keyboardOpen;
    $("keyboard-toggle").classList.toggle("active", state.keyboardOpen);
  }

  async function pressReply(button) {
    if (state.keyboard && state.keyboard.one_time) {
      state.keyboardOpen = false;
      $("reply-keyboard").hidden = true;
      $("keyboard-toggle").classList.remove("active");
    }
    await act(api(chatPath(state.current, "/reply-buttons"), { json: { text: button.text } }));
  }

  function renderCommands(filter = "") {
    const menu = $("command-menu");
    menu.replaceChildren();
    const wanted = filter.replace(/^\//, "").toLowerCase();
    const shown = state.commands.filter((c) => c.command.startsWith(wanted));
    for (const [index, command] of shown.entries()) {
      const item = el("button", index === 0 ? "command-item active" : "command-item");
      item.type = "button";
      item.setAttribute("role", "option");
      item.append(el("span", "command-name", `/${command.command}`), el("span", "command-description", command.description));
      item.addEventListener("click", () => {
        menu.hidden = true;
        $("input").value = "";
        sendCommandText(`/${command.command}`);
      });
      menu.appendChild(item);
    }
    menu.hidden = shown.length === 0;
  }

  async function sendCommandText(text) {
    const match = /^\/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+([\s\S]*))?$/.exec(text.trim());
    if (!match) return false;
    await act(api(chatPath(state.current, "/commands"), { json: { command: match[1], args: match[2] || "" } }));
    return true;
  }

  // ------------------------------------------------------------------ composer

  async function send() {
    const input = $("input");
    const text = input.value.trim();
    if (!text || !state.current) return;
    input.value = "";
    autosize();
    $("command-menu").hidden = true;
    const replyTo = state.replyTo;
    setReplyTo(null);
    if (/^\/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?(\s|$)/.test(text)) {
      await sendCommandText(text);
    } else if (replyTo) {
      await act(api(chatPath(state.current, "/messages"), { json: { text, reply_to: replyTo } }));
    } else {
      await act(api(chatPath(state.current, "/messages"), { json: { text } }));
    }
  }

  function setReplyTo(id) {
    state.replyTo = id;
    const bar = $("reply-bar");
    const quoted = id ? state.messages.get(id) : null;
    bar.hidden = !quoted;
    $("reply-bar-text").textContent = quoted ? preview(quoted).replace(/^You: /, "") : "";
    if (quoted) $("input").focus();
  }

  function autosize() {
    const input = $("input");
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  async function upload(file) {
    if (!file || !state.current) return;
    const form = new FormData();
    form.append("file", file, file.name);
    const caption = $("input").value.trim();
    if (caption) form.append("caption", caption);
    const done = await act(api(chatPath(state.current, "/files"), { form }));
    if (done && caption) {
      $("input").value = "";
      autosize();
    }
  }

  // ------------------------------------------------------------------ clock

  function renderClock() {
    const now = new Date(Date.now() + state.clockOffset * 1000);
    $("clock-now").textContent = now.toLocaleString([], {
      weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    });
    $("clock-now").dateTime = now.toISOString();
    const minutes = Math.round(state.clockOffset / 60);
    const parts = [];
    if (minutes >= 1440) parts.push(`${Math.floor(minutes / 1440)} ${tr("d")}`);
    if (minutes % 1440 >= 60) parts.push(`${Math.floor((minutes % 1440) / 60)} ${tr("h")}`);
    if (minutes % 60) parts.push(`${minutes % 60} ${tr("min")}`);
    $("clock-offset").textContent = parts.length ? `+${parts.join(" ")} ${tr("ahead")}` : tr("realTime");
  }

  async function moveClock(amount, unit) {
    const buttons = document.querySelectorAll(".clock button");
    buttons.forEach((button) => { button.disabled = true; });
    const result = await act(api("/api/clock", { json: { amount, unit } }));
    buttons.forEach((button) => { button.disabled = false; });
    if (result) {
      state.clockOffset = result.clock.offset_seconds;
      renderClock();
      toast(`${tr("moved")}: +${amount} ${tr(unit)}`);
    }
  }

  // ------------------------------------------------------------------ events

  function onEvent(event) {
    switch (event.type) {
      case "hello":
        state.clockOffset = event.clock.offset_seconds;
        renderClock();
        if (state.retry > 0) refreshAll();
        state.retry = 0;
        $("connection").hidden = true;
        break;
      case "resync":
        refreshAll();
        break;
      case "reset": // the sandbox started again from nothing (here or in another tab)
        window.location.reload();
        break;
      case "clock":
        state.clockOffset = event.clock.offset_seconds;
        renderClock();
        break;
      case "message":
        onMessage(event);
        break;
      case "deleted":
        onDeleted(event);
        break;
      case "callback_answer":
        onCallbackAnswer(event);
        break;
      case "chat_action":
        onChatAction(event);
        break;
      case "profile_changed":
        if (state.current) refreshCommands();
        break;
      default:
        break;
    }
  }

  function onMessage(event) {
    const message = event.message;
    for (const chat of chatsFor(event.chat_id)) {
      if (!event.edited || !chat.last || chat.last.id === message.id) chat.last = message;
      if (chat.key === state.current && state.buffer) {
        state.buffer.push(event);
      } else if (chat.key === state.current) {
        // As in Telegram: a reader at the bottom stays there, however long the new message
        // or however tall the keyboard that comes with it (measured before either lands).
        const stick = atBottom();
        upsertMessage(message);
        setKeyboardIfChanged(event.reply_keyboard);
        renderEmptyState();
        if (message.sender === "bot") clearTyping();
        scrollToEnd(stick || message.sender === "user");
      } else if (!event.edited && message.sender === "bot") {
        state.unread.set(chat.key, (state.unread.get(chat.key) || 0) + 1);
      }
    }
    renderList();
  }

  function setKeyboardIfChanged(keyboard) {
    if (JSON.stringify(keyboard) === JSON.stringify(state.keyboard)) return;
    state.keyboardOpen = true;
    setKeyboard(keyboard);
  }

  function onDeleted(event) {
    for (const chat of chatsFor(event.chat_id)) {
      if (chat.last && chat.last.id === event.message_id) chat.last = null;
      if (chat.key !== state.current) continue;
      state.messages.delete(event.message_id);
      const node = $("messages").querySelector(`.msg[data-id="${event.message_id}"]`);
      if (node) {
        node.classList.add("deleting");
        setTimeout(() => node.remove(), 250);
      }
    }
    renderList();
  }

  function onCallbackAnswer(event) {
    const node = state.pending.get(event.query_id);
    if (node) {
      node.classList.remove("loading");
      state.pending.delete(event.query_id);
    }
    if (!node && !chatsFor(event.chat_id).some((chat) => chat.key === state.current)) return;
    if (event.text) {
      if (event.show_alert) alertBox(event.text);
      else toast(event.text);
    }
  }

  function onChatAction(event) {
    if (!chatsFor(event.chat_id).some((chat) => chat.key === state.current)) return;
    const labels = { typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…" };
    $("chat-sub").textContent = labels[event.action] || "…";
    $("chat-sub").classList.add("typing");
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(clearTyping, 5000);
  }

  function clearTyping() {
    clearTimeout(state.typingTimer);
    const chat = state.byKey.get(state.current);
    if (!chat) return;
    $("chat-sub").classList.remove("typing");
    $("chat-sub").textContent = chat.kind === "group" ? "group · the bot is an administrator" : "bot";
  }

  async function refreshCommands() {
    const key = state.current;
    const data = await act(api(chatPath(key)));
    if (!data || key !== state.current) return;
    state.commands = data.commands || [];
    state.description = data.description;
    renderEmptyState();
  }

  async function refreshAll() {
    await loadState();
    if (state.current) await openChat(state.current, { push: false });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    state.socket = socket;
    socket.addEventListener("message", (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch (error) {
        console.error(error);
      }
    });
    socket.addEventListener("close", () => {
      state.retry += 1;
      $("connection").hidden = false;
      setTimeout(connect, Math.min(500 * state.retry, 5000));
    });
  }

  // ------------------------------------------------------------------ start-up

  async function loadState() {
    const data = await act(api("/api/state"));
    if (!data) return false;
    state.bot = data.bot;
    state.chats = data.chats;
    state.byKey = new Map(data.chats.map((chat) => [chat.key, chat]));
    state.clockOffset = data.clock.offset_seconds;
    $("bot-name").textContent = data.bot.name;
    document.title = `${data.bot.name} — sandbox`;
    renderClock();
    renderList();
    return true;
  }

  function wire() {
    $("reply-cancel").addEventListener("click", () => setReplyTo(null));
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    $("input").addEventListener("keydown", (event) => {
      const menu = $("command-menu");
      const items = [...menu.querySelectorAll(".command-item")];
      const active = items.findIndex((item) => item.classList.contains("active"));
      if (!menu.hidden && items.length && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        // Move the highlight through the suggestions, as Telegram does.
        event.preventDefault();
        const next = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        items.forEach((item, index) => item.classList.toggle("active", index === next));
        items[next].scrollIntoView({ block: "nearest" });
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!menu.hidden && active >= 0) items[active].click(); // Enter takes the suggestion
        else send();
      } else if (event.key === "Tab" && !menu.hidden && active >= 0) {
        event.preventDefault();
        $("input").value = `${items[active].querySelector(".command-name").textContent} `;
        menu.hidden = true;
      } else if (event.key === "Escape") {
        menu.hidden = true;
      }
    });
    $("input").addEventListener("input", () => {
      autosize();
      const value = $("input").value;
      if (/^\/\w*$/.test(value)) renderCommands(value);
      else $("command-menu").hidden = true;
    });
    $("menu-button").addEventListener("click", () => {
      if ($("command-menu").hidden) renderCommands("");
      else $("command-menu").hidden = true;
    });
    $("keyboard-toggle").addEventListener("click", () => {
      state.keyboardOpen = !state.keyboardOpen;
      $("reply-keyboard").hidden = !state.keyboardOpen || !state.keyboard;
      $("keyboard-toggle").classList.toggle("active", state.keyboardOpen);
    });
    $("attach").addEventListener("click", () => $("file-input").click());
    $("file-input").addEventListener("change", async () => {
      const file = $("file-input").files[0];
      $("file-input").value = "";
      await upload(file);
    });
    $("start-button").addEventListener("click", () => sendCommandText("/start"));
    $("back").addEventListener("click", () => {
      // Back on a phone: the list counts new messages for every chat again.
      state.current = null;
      renderList();
      document.getElementById("app").className = "app show-list";
      history.replaceState(null, "", location.pathname);
    });
    $("alert-ok").addEventListener("click", () => $("alert").close());
    document.querySelectorAll(".clock-controls .chip[data-unit]").forEach((button) => {
      button.addEventListener("click", () => moveClock(Number(button.dataset.amount), button.dataset.unit));
    });
    $("clock-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const amount = Number($("clock-amount").value);
      if (Number.isInteger(amount) && amount > 0) moveClock(amount, $("clock-unit").value);
    });
    document.addEventListener("click", (event) => {
      if (!event.target.closest("#command-menu, #menu-button")) $("command-menu").hidden = true;
    });
    $("reset").addEventListener("click", async () => {
      if (!window.confirm(tr("resetAsk"))) return;
      $("reset").disabled = true;
      const done = await act(api("/api/reset", { json: {} }));
      if (done) window.location.reload();
      else $("reset").disabled = false;
    });
    setInterval(renderClock, 15000);
  }

  async function main() {
    translatePage();
    wire();
    const loaded = await loadState();
    connect();
    if (!loaded) return;
    const wanted = location.hash.slice(1);
    if (state.byKey.has(wanted)) await openChat(wanted, { push: false });
    else if (!PHONE.matches && state.chats.length) await openChat(state.chats[0].key);
    document.body.dataset.ready = "true";
  }

  main();
})();
