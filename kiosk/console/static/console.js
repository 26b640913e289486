// The staff console's page: sign-in, the counter's state as the unit streams it (server-sent
// events), the actions. Every change is a POST with the session's CSRF token in X-CSRF-Token.
"use strict";

const API = "api/";
const REQUEST_TIMEOUT_MS = 15000;
const PING_EVERY_MS = 5000;          // how soon a unit that stopped answering is said
const PING_TIMEOUT_MS = 4000;
const TOAST_MS = 8000;

const $ = (id) => document.getElementById(id);
let info = null;          // the answer of GET api/session
let csrf = "";
let stream = null;
let snapshot = null;
let unitAnswers = true;
let busy = false;
let toastTimer = 0;
let reopenTimer = 0;

// --- talking to the unit ------------------------------------------------------------------

async function call(method, path, body, timeoutMs = REQUEST_TIMEOUT_MS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const headers = {"X-CSRF-Token": csrf};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(API + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin", cache: "no-store", signal: controller.signal,
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    setUnitAnswers(true);
    if (!response.ok) {
      const error = (data && data.error) || {};
      return {ok: false, code: error.code || "http_" + response.status,
              text: error.text || `操作未完成（${response.status}）`};
    }
    return {ok: true, data};
  } catch (_) {
    setUnitAnswers(false);
    return {ok: false, code: "unreachable", text: "本机无响应，操作可能未完成：请看当前号码后再试"};
  } finally {
    clearTimeout(timer);
  }
}

function setUnitAnswers(answers) {
  if (answers === unitAnswers) return;
  unitAnswers = answers;
  showAlerts();
}

// --- sign-in --------------------------------------------------------------------------------

async function loadSession(note) {
  const answer = await call("GET", "session", undefined, PING_TIMEOUT_MS);
  if (!answer.ok) {
    if (answer.code === "not_found") {
      showSignIn(answer.text);
      $("signin-form").hidden = true;
      return;
    }
    scheduleReopen();
    return;
  }
  info = answer.data;
  csrf = info.csrf;
  $("counter-name").textContent = `${info.counter_id}号窗口`;
  if (info.signed_in) {
    showDesk();
  } else {
    showSignIn(note);
  }
}

function showSignIn(note) {
  closeStream();
  snapshot = null;
  $("desk").hidden = true;
  $("signin").hidden = false;
  $("who").textContent = "";
  $("signin-note").textContent = note || `请输入工号和密码（${info ? info.counter_id + "号窗口" : ""}）`;
  showAlerts();
  if (info && info.badge) offerBadge(info.badge);
  const staffId = $("staff-id");
  if (!staffId.value) staffId.focus(); else $("pin").focus();
}

// A staff card read at the counter by someone who has not given the PIN today: its 工号 is offered.
function offerBadge(staffId) {
  if ($("staff-id").value === staffId) return;
  $("staff-id").value = staffId;
  $("signin-note").textContent = `已读取工作证（工号 ${staffId}），请输入密码完成今日首次签到`;
  $("pin").focus();
}

async function signIn(event) {
  event.preventDefault();
  const staffId = $("staff-id").value.trim();
  const pin = $("pin").value;
  const error = $("signin-error");
  if (!staffId || !pin) {
    error.textContent = !staffId ? "请输入工号" : "请输入密码";
    (!staffId ? $("staff-id") : $("pin")).focus();
    return;
  }
  const button = $("signin-button");
  button.disabled = true;
  error.textContent = "正在核对…";
  const answer = await call("POST", "sign-in", {staff_id: staffId, pin});
  button.disabled = false;
  $("pin").value = "";
  if (!answer.ok) {
    error.textContent = answer.text;
    if (answer.code === "csrf_failed") await loadSession();
    $("pin").focus();
    return;
  }
  error.textContent = "";
  csrf = answer.data.csrf;
  info.signed_in = true;
  showDesk();
  toast(answer.data.say, true);
}

// --- the desk ------------------------------------------------------------------------------

function showDesk() {
  $("signin").hidden = true;
  $("desk").hidden = false;
  openStream();
  $("call-next").focus();
}

function openStream() {
  closeStream();
  stream = new EventSource(API + "stream");
  stream.onmessage = (message) => {
    setUnitAnswers(true);
    render(JSON.parse(message.data));
  };
  stream.onopen = () => setUnitAnswers(true);
  stream.onerror = () => {
    setUnitAnswers(false);
    // A stream the unit refused (signed out, restarted, too many pages) is not retried by the
    // browser: ask who is signed in, then open it again.
    if (stream && stream.readyState === EventSource.CLOSED) scheduleReopen();
  };
}

function closeStream() {
  if (stream) stream.close();
  stream = null;
}

function scheduleReopen() {
  clearTimeout(reopenTimer);
  reopenTimer = setTimeout(() => loadSession("本机已重新连接，请重新登录"), 2000);
}

function render(view) {
  if (view.session !== "active") {
    info.signed_in = false;
    loadSession(view.text);
    return;
  }
  snapshot = view;
  const staff = view.staff;
  $("who").textContent = staff ? `${staff.name}（工号 ${staff.staff_id}）` : "";
  $("counter-name").textContent = `${view.counter_id}号窗口`;
  $("serving-ticket").textContent = view.serving ? view.serving.ticket : "—";
  $("serving-category").textContent = view.serving ? view.serving.category : "暂无办理中的号码";
  const state = $("counter-state");
  state.textContent = view.counter.text;
  state.className = view.counter.state === "paused" ? "paused" : (view.counter.state === "out_of_order" ? "warn" : "");
  const citizen = view.last_citizen;
  $("last-citizen").textContent = citizen
    ? `${citizen.text}${citizen.ticket ? "（" + citizen.ticket + "）" : ""}` : "—";
  const printer = $("printer");
  printer.textContent = view.printer.text;
  printer.className = view.printer.ok ? "" : "warn";
  $("pause").hidden = view.counter.paused;
  $("resume").hidden = !view.counter.paused;
  const list = $("waiting");
  list.replaceChildren(...view.waiting.categories.map((category) => {
    const item = document.createElement("li");
    if (!category.called_here) item.className = "elsewhere";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = category.name;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = category.count === null ? "—" : String(category.count);
    item.append(name, count);
    item.setAttribute("aria-label", `${category.name} ${category.count === null ? "未知" : category.count + " 人"}`
      + (category.called_here ? "" : "（本窗口不办理）"));
    return item;
  }));
  $("waiting-total").textContent = view.waiting.total === null ? "（暂无数据）" : `共 ${view.waiting.total} 人`;
  showAlerts();
}

function showAlerts() {
  const lines = [];
  if (!unitAnswers) lines.push("本机服务无响应，正在重新连接…（显示的可能不是最新状态）");
  if (snapshot && unitAnswers) {
    if (!snapshot.storage.ok) lines.push(snapshot.storage.text);
    if (!snapshot.queue.ok) lines.push(snapshot.queue.text + "：呼叫、重呼、过号和转移暂不可用");
  }
  $("alerts").replaceChildren(...lines.map((line) => {
    const p = document.createElement("p");
    p.textContent = line;
    return p;
  }));
  const link = $("link");
  const down = !unitAnswers || (snapshot && !snapshot.queue.ok);
  link.classList.toggle("down", Boolean(down));
  $("link-text").textContent = !unitAnswers ? "本机无响应"
    : (snapshot && !snapshot.queue.ok ? "排队主机无响应" : (snapshot ? "已连接" : "已连接本机"));
}

function toast(text, ok) {
  const element = $("toast");
  element.textContent = text || "";
  element.className = "toast " + (ok ? "ok" : "bad");
  element.setAttribute("role", ok ? "status" : "alert");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { element.textContent = ""; }, TOAST_MS);
}

async function act(path, body, errorElement) {
  if (busy) return null;
  busy = true;                       // one change at a time: a double click calls one ticket
  const buttons = document.querySelectorAll(".actions button, dialog button");
  buttons.forEach((button) => { button.disabled = true; });
  try {
    const answer = await call("POST", path, body === undefined ? {} : body);
    if (!answer.ok) {
      if (answer.code === "no_session") {
        closeDialogs();
        loadSession(answer.text);
      } else if (errorElement) {
        errorElement.textContent = answer.text;
      } else {
        toast(answer.text, false);
      }
      return null;
    }
    toast(answer.data.say, true);
    return answer.data;
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
    busy = false;
  }
}

// --- dialogs -------------------------------------------------------------------------------

let opener = null;

function openDialog(id, focusId) {
  opener = document.activeElement;
  const dialog = $(id);
  dialog.querySelectorAll(".error").forEach((element) => { element.textContent = ""; });
  dialog.showModal();
  if (focusId) $(focusId).focus();
}

function closeDialogs() {
  document.querySelectorAll("dialog[open]").forEach((dialog) => dialog.close());
}

function choiceButton(text, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.addEventListener("click", onClick);
  return button;
}

async function transferTo(target) {
  if (await act("transfer", target, $("transfer-error"))) $("transfer-dialog").close();
}

function openTransfer() {
  $("transfer-ticket").textContent = snapshot && snapshot.serving ? snapshot.serving.ticket : "";
  $("counter-list").replaceChildren(...info.counters.map((counter) => {
    const option = document.createElement("option");
    option.value = counter;
    return option;
  }));
  $("category-choices").replaceChildren(...info.categories.map((category) =>
    choiceButton(`转到${category.name}`, () => transferTo({to_category: category.letter}))));
  $("to-counter").value = "";
  openDialog("transfer-dialog", "to-counter");
}

function openPause() {
  $("pause-reasons").replaceChildren(...info.pause_reasons.map((reason, index) => {
    const label = document.createElement("label");
    label.className = "reason";
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "reason";
    radio.value = reason.code;
    radio.checked = index === 0;
    label.append(radio, " " + reason.label);
    return label;
  }));
  $("pause-other").value = "";
  openDialog("pause-dialog", null);
  $("pause-form").querySelector("input[name=reason]:checked").focus();
}

async function pause(event) {
  event.preventDefault();
  const chosen = $("pause-form").querySelector("input[name=reason]:checked");
  let reason = chosen ? chosen.value : "";
  if (reason === "other") {
    reason = $("pause-other").value.trim();
    if (!reason) {
      $("pause-error").textContent = "请填写暂停的原因";
      $("pause-other").focus();
      return;
    }
  }
  if (await act("pause", {reason}, $("pause-error"))) $("pause-dialog").close();
}

let searchTimer = 0;
let searchNumber = 0;

async function searchItems() {
  const number = ++searchNumber;
  const query = $("notice-search").value.trim();
  const answer = await call("GET", "service-items?q=" + encodeURIComponent(query));
  if (number !== searchNumber) return;            // a later search is on its way
  if (!answer.ok) {
    $("notice-error").textContent = answer.text;
    return;
  }
  const found = answer.data;
  $("notice-count").textContent = found.total === 0 ? "没有找到匹配的事项"
    : (found.total > found.items.length ? `共 ${found.total} 项，显示前 ${found.items.length} 项` : `共 ${found.total} 项`);
  $("notice-results").replaceChildren(...found.items.map((item) => {
    const entry = document.createElement("li");
    const button = choiceButton("", async () => {
      if (await act("notice", {service_item: item.code}, $("notice-error"))) $("notice-dialog").close();
    });
    const code = document.createElement("span");
    code.className = "code";
    code.textContent = item.code;
    button.append(code, ` ${item.name}${item.time_limit ? "（" + item.time_limit + "）" : ""}`);
    entry.append(button);
    return entry;
  }));
}

function openNotice() {
  $("notice-search").value = "";
  $("notice-results").replaceChildren();
  $("notice-count").textContent = "";
  openDialog("notice-dialog", "notice-search");
  searchItems();
}

// --- wiring --------------------------------------------------------------------------------

function wire() {
  $("signin-form").addEventListener("submit", signIn);
  $("call-next").addEventListener("click", () => act("call-next"));
  $("recall").addEventListener("click", () => act("recall"));
  $("no-show").addEventListener("click", () => act("no-show"));
  $("complete").addEventListener("click", () => act("complete"));
  $("resume").addEventListener("click", () => act("resume"));
  $("transfer").addEventListener("click", openTransfer);
  $("pause").addEventListener("click", openPause);
  $("notice").addEventListener("click", openNotice);
  $("sign-out").addEventListener("click", async () => {
    closeStream();                   // its last word would be "signed out" before the answer is
    if (await act("sign-out")) {
      info.signed_in = false;
      $("staff-id").value = "";
      loadSession("已签退");
    } else if (!$("desk").hidden) {
      openStream();
    }
  });
  $("transfer-counter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const counter = $("to-counter").value.trim();
    if (!counter) {
      $("transfer-error").textContent = "请输入窗口号，或选择业务类别";
      $("to-counter").focus();
      return;
    }
    transferTo({to_counter: counter});
  });
  $("pause-form").addEventListener("submit", pause);
  $("pause-other").addEventListener("input", () => {
    const other = $("pause-form").querySelector("input[value=other]");
    if ($("pause-other").value) other.checked = true;
  });
  $("notice-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(searchItems, 200);
  });
  document.querySelectorAll("dialog").forEach((dialog) => {
    dialog.querySelectorAll("[data-close]").forEach((button) =>
      button.addEventListener("click", () => dialog.close()));
    dialog.addEventListener("close", () => {
      if (opener && document.contains(opener)) opener.focus();
    });
  });
  // Number keys press the buttons that show them, while no field or dialog has the keyboard.
  document.addEventListener("keydown", (event) => {
    if ($("desk").hidden || document.querySelector("dialog[open]") || event.ctrlKey || event.altKey
        || event.metaKey || /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) return;
    const button = [...document.querySelectorAll(".actions button[data-key]")]
      .find((candidate) => candidate.dataset.key === event.key && !candidate.hidden);
    if (button) {
      event.preventDefault();
      button.focus();
      button.click();
    }
  });
  setInterval(async () => {
    const answer = await call("GET", "session", undefined, PING_TIMEOUT_MS);
    if (answer.ok && !answer.data.signed_in && !$("desk").hidden) loadSession("登录已结束，请重新登录");
    else if (answer.ok && !answer.data.signed_in && answer.data.badge && !$("signin").hidden) offerBadge(answer.data.badge);
    else if (answer.ok && answer.data.signed_in && !stream && !$("desk").hidden) openStream();
  }, PING_EVERY_MS);
}

wire();
loadSession();
