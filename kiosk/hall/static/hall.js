// The hall display: follows the queue host's board (api/stream through live.js, which connects
// again after the host restarts or the line goes silent) and shows each new call for a few seconds.
"use strict";

(function () {
  const CALL_SHOWN_MS = 6000;        // a call alone on the screen
  const CALL_SHOWN_BUSY_MS = 3500;   // each call when several came together
  const FRESH_MS = 10000;            // how long a new call's row stays highlighted
  const SILENT_MS = 40000;           // the board comes at least every 15 s; silence longer is a dead line
  const LINK_SAID_AFTER_MS = 3000;   // a reconnect quicker than this is not worth a word
  const RECENT_SHOWN = 6;
  const ANNOUNCEMENT_MS = 12000;

  const $ = (id) => document.getElementById(id);
  const seen = new Set();            // calls already known: ticket|window|time of the call
  const freshUntil = new Map();      // ticket|window → when its highlight ends
  const callQueue = [];
  let first = true;
  let board = null;
  let hostOffsetMs = 0;              // the host's clock minus this screen's
  let downSince = null;
  let callTimer = null;
  let announcementIndex = 0;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function callKey(call) { return call.ticket + "|" + call.counter_id + "|" + call.at; }
  function rowKey(ticket, counter) { return ticket + "|" + counter; }

  function zoneFormat(options) {
    const zone = board && board.time_zone;
    try {
      return new Intl.DateTimeFormat("zh-CN", Object.assign({ timeZone: zone || undefined }, options));
    } catch (error) {   // a browser without that zone: the TV's own
      return new Intl.DateTimeFormat("zh-CN", options);
    }
  }

  function showClock() {
    const now = new Date(Date.now() + hostOffsetMs);
    $("date").textContent = zoneFormat({ month: "long", day: "numeric", weekday: "long" }).format(now);
    $("time").textContent = zoneFormat({ hour: "2-digit", minute: "2-digit", hour12: false }).format(now);
  }

  function callTime(at) {
    const moment = new Date(at);
    return isNaN(moment) ? "" : zoneFormat({ hour: "2-digit", minute: "2-digit", hour12: false }).format(moment);
  }

  function windowText(counter) { return counter + "号窗口"; }

  function isFresh(ticket, counter) {
    const until = freshUntil.get(rowKey(ticket, counter));
    return until !== undefined && until > Date.now();
  }

  function callRow(call, withTime) {
    const row = element("li");
    if (isFresh(call.ticket, call.counter_id)) row.classList.add("fresh");
    row.append(element("span", "ticket", call.ticket), element("span", "arrow", "→"),
               element("span", "window", windowText(call.counter_id)));
    if (withTime) row.append(element("span", "at", callTime(call.at)));
    row.setAttribute("aria-label", call.ticket + " 到 " + windowText(call.counter_id));
    return row;
  }

  function fitServing(count) {
    const list = $("serving");
    const columns = count <= 6 ? 1 : count <= 14 ? 2 : 3;
    const rows = Math.max(1, Math.ceil(count / columns));
    const height = list.clientHeight || window.innerHeight * 0.7;
    const width = (list.clientWidth || window.innerWidth * 0.6) / columns;
    // "A023 → 12号窗口" is about 9.5 characters wide; a row is 1.4 of its font's height.
    const font = Math.min(window.innerHeight * 0.1, height / rows / 1.5, width / 9.8);
    list.style.setProperty("--columns", String(columns));
    list.style.setProperty("--row-font", Math.floor(font) + "px");
  }

  function showServing() {
    const list = $("serving");
    const serving = board.serving.map((s) => ({ ticket: s.ticket, counter_id: s.counter_id }));
    list.replaceChildren(...serving.map((s) => callRow(s, false)));
    $("serving-empty").hidden = serving.length > 0;
    fitServing(serving.length);
  }

  function showRecent() {
    const calls = board.last_called.slice(0, RECENT_SHOWN);
    const list = $("recent");
    list.replaceChildren(...calls.map((c) => callRow(c, true)));
    // As many as the space left by the waiting counts holds, whole rows only.
    const room = list.parentElement.getBoundingClientRect().bottom;
    while (list.lastElementChild && list.lastElementChild.getBoundingClientRect().bottom > room + 1) {
      list.lastElementChild.remove();
    }
  }

  function showWaiting() {
    const body = $("waiting").tBodies[0];
    body.replaceChildren(...board.categories.map((c) => {
      const row = element("tr", c.stopped ? "stopped" : "");
      row.append(element("td", "name", c.name));
      if (c.stopped) {
        row.append(element("td", "count", "今日已停止取号"), element("td", "wait", ""));
      } else {
        row.append(element("td", "count", c.waiting + " 人"),
                   element("td", "wait", c.waiting && c.wait_min ? "约 " + c.wait_min + " 分钟" : ""));
      }
      return row;
    }));
    $("surge").hidden = !board.surge;
  }

  function showAnnouncement() {
    const texts = (board && board.announcements) || [];
    const bar = $("announcements");
    const changed = bar.hidden !== (texts.length === 0);
    bar.hidden = texts.length === 0;
    if (texts.length) $("announcement").textContent = texts[announcementIndex % texts.length];
    return changed;
  }

  function showNextCall() {
    callTimer = null;
    const call = callQueue.shift();
    if (!call) {
      $("call").hidden = true;
      return;
    }
    $("call-ticket").textContent = call.ticket;
    $("call-window").textContent = call.counter_id;
    $("call").hidden = false;
    callTimer = setTimeout(showNextCall, callQueue.length ? CALL_SHOWN_BUSY_MS : CALL_SHOWN_MS);
  }

  function noteNewCalls() {
    const known = new Set();
    const arrived = [];
    for (const call of board.last_called) {
      const key = callKey(call);
      known.add(key);
      if (!seen.has(key) && !first) arrived.push(call);
    }
    seen.clear();
    known.forEach((key) => seen.add(key));
    first = false;
    arrived.reverse();                       // oldest first, as they were made
    for (const call of arrived) {
      freshUntil.set(rowKey(call.ticket, call.counter_id), Date.now() + FRESH_MS);
      callQueue.push(call);
    }
    if (arrived.length && callTimer === null) showNextCall();
    else if (arrived.length && $("call").hidden === false && callQueue.length) {
      clearTimeout(callTimer);               // the one on screen makes way sooner
      callTimer = setTimeout(showNextCall, CALL_SHOWN_BUSY_MS);
    }
    if (arrived.length) setTimeout(() => { showServing(); showRecent(); }, FRESH_MS + 100);
  }

  function apply(next) {
    board = next;
    if (board.now) hostOffsetMs = Date.parse(board.now) - Date.now();
    $("centre-name").textContent = (board.centre_name || "") + " · 叫号信息";
    document.title = $("centre-name").textContent;
    noteNewCalls();
    showAnnouncement();  // first: the announcements' bar takes its height from the rest
    showServing();
    showWaiting();
    showRecent();        // in the room the waiting counts leave
    showClock();
  }

  setInterval(() => {
    $("link").hidden = downSince === null || Date.now() - downSince < LINK_SAID_AFTER_MS;
    showClock();
  }, 1000);
  setInterval(() => {
    announcementIndex += 1;
    if (showAnnouncement() && board) { showServing(); showRecent(); }   // the bar came or went
  }, ANNOUNCEMENT_MS);
  window.addEventListener("resize", () => { if (board) showServing(); });
  window.followLive({
    stream: "api/stream", once: "api/board", onData: apply, silentMs: SILENT_MS,
    onLink: (up) => {
      downSince = up ? null : (downSince || Date.now());
      if (up) $("link").hidden = true;   // said only after a while; unsaid at once
    },
  });
})();
