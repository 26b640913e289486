// Following a page's live stream (kiosk.api.stream: server-sent events with the page's snapshot),
// for every live page of the unit: it never gives up. A network error is the browser's to retry;
// a refusal (the unit busy, 429, 503) closes an EventSource for good, so it is opened again, a
// little later each time; and a line that went silent longer than `silentMs` (a unit that lost
// its power keeps no connection to close) is dropped and opened again. Without EventSource (an
// old TV browser) the page's JSON is polled instead.
"use strict";

window.followLive = function (options) {
  const { stream, once, onData, onLink, silentMs = null, pollMs = 2000 } = options;
  let source = null;
  let retryMs = 1000;
  let lastHeard = Date.now();
  let up = null;

  function link(state) {
    if (state !== up) {
      up = state;
      onLink(state);
    }
  }

  function heard(data) {
    lastHeard = Date.now();
    retryMs = 1000;
    link(true);
    onData(data);
  }

  function open() {
    source = new EventSource(stream);
    source.onmessage = (event) => heard(JSON.parse(event.data));
    source.onerror = () => {
      link(false);
      if (source.readyState === EventSource.CLOSED) reopenLater();
    };
  }

  function reopenLater() {
    if (source) source.close();
    source = null;
    setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, 15000);
  }

  function poll() {
    fetch(once, { cache: "no-store" })
      .then((response) => { if (!response.ok) throw new Error(String(response.status)); return response.json(); })
      .then(heard)
      .catch(() => link(false))
      .finally(() => setTimeout(poll, pollMs));
  }

  if (!window.EventSource) {
    poll();
    return;
  }
  if (silentMs) {
    setInterval(() => {
      if (source && Date.now() - lastHeard > silentMs) {
        lastHeard = Date.now();
        link(false);
        reopenLater();
      }
    }, 1000);
  }
  open();
};
