// The sim panel: the unit's screen as the citizen sees it, the ten keys (buttons, keyboard 1–5 and
// F1–F5), the printer's switches, every slip printed, what was said, the latest events. It follows
// the unit through api/stream (live.js) and presses through the sim API's own handlers.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const LEVELS = { "非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1 };
  let panel = null;
  let screenShown = null;
  let screenLoading = null;
  let screenLoads = 0;
  let keysMade = "";
  let slipsShown = "";

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then((response) => response.json().then((answer) => ({ ok: response.ok, answer })));
  }

  function say(text) { $("pressed").textContent = text; }

  function press(kind, key) {
    const button = $(kind + "-" + key);
    if (!button) return;
    button.classList.add("down");
    setTimeout(() => button.classList.remove("down"), 160);
    const name = button.getAttribute("aria-label");
    post("api/" + (kind === "rating" ? "keys" : "ticket-keys") + "/" + key + "/press").then(({ ok, answer }) => {
      if (!ok) say(name + "：" + ((answer.error && answer.error.message) || "未能按下"));
      else say(name + " → " + (answer.events.length ? answer.events.join("、") : "没有新事件（重复按键或防抖，已忽略）"));
    }).catch(() => say(name + "：模拟器没有应答"));
  }

  function keyButton(kind, key, label, prefix) {
    const button = element("button");
    button.type = "button";
    button.id = kind + "-" + key;
    button.setAttribute("aria-label", prefix + key);
    if (kind === "rating") button.dataset.level = String(LEVELS[label] || "");
    const caption = element("span", "key-label", label);
    caption.id = button.id + "-label";
    caption.setAttribute("aria-hidden", "true");
    button.setAttribute("aria-describedby", caption.id);
    button.append(element("span", "key-name", prefix + key), caption);
    button.addEventListener("click", () => press(kind, key));
    return button;
  }

  function makeKeys() {
    const made = JSON.stringify([panel.rating_keys, panel.ticket_keys]);
    if (made === keysMade) return;
    keysMade = made;
    $("rating-key-row").replaceChildren(...panel.rating_keys.map((k) => keyButton("rating", k.key, k.label, "评价键")));
    $("ticket-key-row").replaceChildren(...panel.ticket_keys.map((k) => keyButton("ticket", k.key, k.label, "取号键")));
    $("rating-keys").hidden = panel.rating_keys.length === 0;
    $("ticket-keys").hidden = panel.ticket_keys.length === 0;
  }

  function showScreen() {
    if (panel.screen === screenShown) return;
    screenShown = panel.screen;
    const next = new Image();            // swapped in once loaded: no flicker
    screenLoading = next;
    // Only the latest: an earlier frame that arrives late must not cover a newer one.
    next.onload = () => { if (screenLoading === next) $("screen").src = next.src; };
    // A fresh address each time: the same screen may come back (idle, a rating, idle again), and the
    // browser would show the picture it fetched under that name, taken a moment later than asked.
    screenLoads += 1;
    next.src = "api/screen.png?v=" + panel.screen + "-" + screenLoads;
  }

  function showPrinter() {
    const printer = panel.printer;
    $("printer").hidden = printer === null;
    if (!printer) return;
    document.querySelectorAll("input[name=paper]").forEach((input) => { input.checked = input.value === printer.paper; });
    $("offline").checked = !printer.online;
    const seen = printer.seen_as || {};
    const state = { ready: "就绪", near_end: "纸将尽", paper_out: "缺纸", offline: "离线", unknown: "无应答" };
    $("printer-seen").textContent = "本机看到的打印机：" + (state[seen.state] || seen.state || "尚未查询")
      + "（空闲时每 " + printer.poll_s + " 秒查询一次；取号时当场查询）";
  }

  function showSlips() {
    const shown = JSON.stringify(panel.slips);
    if (shown === slipsShown) return;
    slipsShown = shown;
    const items = panel.slips.slice().reverse().map((slip) => {
      const item = element("li", slip.broken ? "broken" : "");
      const link = element("a");
      link.href = "api/slips/" + slip.id;
      link.target = "_blank";
      const image = element("img");
      image.src = "api/slips/" + slip.id;
      image.alt = "第 " + slip.id + " 张：" + slip.text;
      image.loading = "lazy";
      link.append(image);
      item.append(link, element("p", "caption", "第 " + slip.id + " 张 · " + slip.text));
      return item;
    });
    $("slips").replaceChildren(...items);
    $("no-slips").hidden = items.length > 0;
    $("slip-count").textContent = items.length ? "共 " + panel.slips[panel.slips.length - 1].id + " 张" : "";
  }

  function showSpeech() {
    const lines = panel.speech.slice().reverse();
    $("speech").replaceChildren(...lines.map((line) => element("li", "", line)));
    $("no-speech").hidden = lines.length > 0;
    $("no-speech").textContent = panel.speech_enabled ? "还没有播报。" : "本机语音已关闭。";
  }

  function showEvents() {
    const events = panel.events.slice().reverse();
    $("events").replaceChildren(...events.map((event) => {
      const item = element("li");
      item.append(element("span", "seq", String(event.seq)), element("span", "type", event.type),
                  element("span", "detail", event.detail));
      return item;
    }));
  }

  function apply(next) {
    panel = next;
    const unit = panel.unit;
    $("unit-line").textContent = unit.centre_name + " · " + unit.counter_id + "号窗口 · 角色 " + unit.role
      + (unit.staff ? " · 已签到：" + unit.staff : " · 未签到");
    $("hall-link").hidden = !unit.queue_host;
    makeKeys();
    showScreen();
    showPrinter();
    showSlips();
    showSpeech();
    showEvents();
  }

  document.querySelectorAll("input[name=paper]").forEach((input) => {
    input.addEventListener("change", () => {
      if (input.checked) post("api/printer/paper", { state: input.value }).then(() => say("打印纸：" + input.parentElement.textContent.trim()));
    });
  });
  $("offline").addEventListener("change", (event) => {
    post("api/printer/online", { online: !event.target.checked })
      .then(() => say(event.target.checked ? "打印机已离线" : "打印机已联机"));
  });

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || event.repeat) return;
    if (event.target instanceof HTMLInputElement && event.target.type !== "radio" && event.target.type !== "checkbox") return;
    const rating = /^Digit([1-5])$/.exec(event.code) || /^Numpad([1-5])$/.exec(event.code);
    const ticket = /^F([1-5])$/.exec(event.key);
    if (rating && panel && panel.rating_keys.length) {
      event.preventDefault();
      press("rating", Number(rating[1]));
    } else if (ticket && panel && panel.ticket_keys.length) {
      event.preventDefault();            // F1 help, F5 reload: here they are the dispenser's keys
      press("ticket", Number(ticket[1]));
    }
  });

  window.followLive({
    stream: "api/stream", once: "api/panel", onData: apply,
    onLink: (up) => { $("link").hidden = up; },
  });
})();
