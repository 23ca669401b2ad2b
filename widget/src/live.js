/**
 * Live events: Server-Sent Events with single-use tickets, replay from the highest message id
 * seen (last_event_id), and polling as the fallback.
 *
 * A broken stream is closed (EventSource's own retry would present a used ticket) and
 * reopened with a new ticket after a back-off of 1 s, 2 s, 4 s… up to 30 s, ±20 %; a stream
 * that stayed up 15 s starts the count again. After three failures in a row it also polls
 * GET /messages?after=<id> until a stream opens. No DOM: EventSource, timers and the clock
 * are injected, so `node --test` can run it.
 */
import { backoff, retryDelay } from "./transport.js";

/**
 * options:
 * - `api`: the Widget API's URL; `call`: transport's client;
 * - `lastId()`: the highest message id shown; `pollGap()`: ms between polls;
 * - `on`: `message(m)`, `typing(data)`, `receipt(r)` for the stream's events and the polled
 *   messages; `unauthorized()` when the session is gone (a new session brings a new ticket);
 * - `EventSource`, `setTimeout`, `clearTimeout`, `now`, `random`: injectable.
 */
export function createLive({
  api,
  call,
  lastId,
  pollGap,
  on,
  EventSource: Source = typeof EventSource === "undefined" ? null : EventSource,
  setTimeout: later = (fn, ms) => setTimeout(fn, ms),
  clearTimeout: cancel = (id) => clearTimeout(id),
  now = Date.now,
  random = Math.random,
}) {
  let source = null;
  let failures = 0;
  let openedAt = 0;
  let reconnectTimer = null;
  let pollTimer = null;
  let polling = false;

  /** Parses the event's JSON data for `handler`; ignores an event that is not JSON. */
  function json(handler) {
    return (e) => {
      let data;
      try {
        data = JSON.parse(e.data);
      } catch {
        return;
      }
      handler(data);
    };
  }

  /** Opens the stream with `ticket`, replaying what came after the highest id shown. */
  function connect(ticket) {
    if (source) source.close();
    const since = lastId();
    const es = new Source(
      api + "/stream?ticket=" + encodeURIComponent(ticket) + (since ? "&last_event_id=" + since : "")
    );
    source = es;
    es.onopen = () => {
      openedAt = now();
      stopPolling();
    };
    es.addEventListener("message", json(on.message));
    es.addEventListener("typing", json(on.typing));
    es.addEventListener("receipt", json(on.receipt));
    es.onerror = () => {
      // The ticket is single use: EventSource's own retry would be refused. Close it and
      // come back with a new ticket and the highest id seen, after a growing pause.
      es.close();
      if (source !== es) return;
      source = null;
      failures = openedAt && now() - openedAt > 15000 ? 1 : failures + 1;
      openedAt = 0;
      if (failures >= 3) startPolling();
      cancel(reconnectTimer);
      reconnectTimer = later(reconnect, backoff(failures - 1, { jitter: 0.2, random }));
    };
  }

  /** Asks for a new ticket and reconnects; the pauses grow while that fails. */
  function reconnect() {
    call("POST", "/stream/ticket").then(
      (answer) => {
        if (answer.status >= 200 && answer.status < 300 && answer.data.ticket) return connect(answer.data.ticket);
        if (answer.status === 401) return on.unauthorized(); // a new session comes with a new ticket
        failures++;
        reconnectTimer = later(reconnect, retryDelay(answer, 5000));
      },
      () => {
        failures++;
        if (failures >= 3) startPolling();
        reconnectTimer = later(reconnect, backoff(failures));
      }
    );
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    poll();
  }
  function stopPolling() {
    polling = false;
    cancel(pollTimer);
  }
  function poll() {
    if (!polling) return;
    const gap = pollGap();
    call("GET", "/messages?after=" + lastId()).then(
      (answer) => {
        if (answer.status === 200) answer.data.messages.forEach(on.message);
        if (answer.status === 401) on.unauthorized();
        pollTimer = later(poll, retryDelay(answer, gap));
      },
      () => {
        pollTimer = later(poll, gap * 2);
      }
    );
  }

  return {
    connect,
    /** Whether the fallback polling runs (for tests). */
    get polling() {
      return polling;
    },
  };
}
