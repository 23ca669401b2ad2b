/**
 * The outbox: the visitor's messages not stored yet, sent one at a time in the order written.
 *
 * Each message gets a client_msg_id when it is written and keeps it through every retry, so
 * the server stores it once however many answers were lost. Retries follow transport's
 * policy (Retry-After on 429, else back-off 2 s, 4 s… up to 30 s). Text messages survive a
 * reload: they are saved (as {c: id, b: body, a: attachments}) until stored; a file waiting
 * for upload is not. No DOM: the view is told through `hooks`, and fetch and timers are
 * injected, so `node --test` runs it.
 */
import { backoff, isRetryable, retryDelay } from "./transport.js";

/** A new client_msg_id: "c-" and 24 random hex digits. */
export function newClientId(random = crypto) {
  const bytes = new Uint8Array(12);
  random.getRandomValues(bytes);
  return "c-" + Array.prototype.map.call(bytes, (b) => (b < 16 ? "0" : "") + b.toString(16)).join("");
}

/**
 * options:
 * - `call(method, path, body)`: transport's client;
 * - `saved`: the persisted list ({c, b, a}) from the last page view; `save(list)` persists;
 * - `ready()`: whether the session is there (nothing is sent before);
 * - `pageUrl()`, `referrer()`: sent with each message;
 * - `hooks`: `changed(item)` redraw a pending message (new, retrying or failed), `removed(item)`
 *   it was stored, `sent(item, message)` the server's answer, `throttled(answer)` a 429,
 *   `unauthorized()` a 401 (resolves once there is a new session), `failure(item, answer)`
 *   the text explaining a refusal, `failed(item)` after it was given up;
 * - `setTimeout`, `newId`: injectable for tests.
 *
 * Items: {id, body, attachments, file, tries, retrying, failed, error, done}.
 */
export function createOutbox({
  call,
  saved = [],
  save,
  ready,
  pageUrl,
  referrer = () => null,
  hooks,
  setTimeout: later = (fn, ms) => setTimeout(fn, ms),
  newId = newClientId,
}) {
  let items = saved
    .filter((it) => it && it.c && (it.b || (it.a && it.a.length)))
    .map((it) => ({ id: it.c, body: it.b, attachments: it.a || [], file: null, tries: 0 }));
  const pending = {}; // client_msg_id -> item, for the items shown and in flight
  let pumping = false;

  function persist() {
    save(
      items
        .filter((it) => !it.file && !it.failed)
        .map((it) => ({ c: it.id, b: it.body, a: it.attachments }))
    );
  }

  /** The message with this client_msg_id is stored (its answer, a replay or the stream's echo). */
  function settle(item) {
    item.done = true;
    delete pending[item.id];
    items = items.filter((x) => x !== item);
    hooks.removed(item);
    persist();
  }

  function fail(item, message) {
    item.failed = true;
    item.error = message;
    items = items.filter((x) => x !== item);
    delete pending[item.id];
    persist();
    hooks.failed(item);
  }

  /** Sends the first item; schedules itself again until the outbox is empty. */
  function pump() {
    if (pumping || !items.length || !ready()) return;
    pumping = true;
    const item = items[0];
    function next(delay) {
      later(() => {
        pumping = false;
        pump();
      }, delay || 0);
    }
    function again(answer) {
      if (item.done) return next(0);
      item.tries++;
      item.retrying = true;
      hooks.changed(item);
      next(retryDelay(answer, backoff(item.tries)));
    }
    function refused(answer) {
      if (answer.status === 429) {
        hooks.throttled(answer);
        return again(answer);
      }
      if (answer.status === 401) {
        hooks.unauthorized().then(() => next(0));
        return;
      }
      if (isRetryable(answer.status)) return again(answer);
      fail(item, hooks.failure(item, answer));
      next(0);
    }
    if (item.file) {
      const data = new FormData();
      data.append("file", item.file, item.file.name);
      call("POST", "/attachments", data).then((answer) => {
        if (answer.status !== 201) return refused(answer);
        item.attachments = [{ id: answer.data.id, filename: answer.data.filename, size: answer.data.size }];
        item.file = null;
        persist();
        next(0);
      }, again);
      return;
    }
    call("POST", "/messages", {
      body: item.body,
      client_msg_id: item.id,
      attachment_ids: item.attachments.map((a) => a.id),
      page_url: pageUrl(),
      referrer: referrer(),
    }).then((answer) => {
      if (answer.status !== 200 && answer.status !== 201) return refused(answer);
      hooks.sent(item, answer.data);
      settle(item);
      next(0);
    }, again);
  }

  return {
    /** The items still to send, in order. */
    get items() {
      return items;
    },
    /** Queues a text (or a file, body "") and starts sending. */
    add(body, file) {
      const item = { id: newId(), body, attachments: [], file: file || null, tries: 0 };
      pending[item.id] = item;
      items.push(item);
      persist();
      hooks.changed(item);
      pump();
      return item;
    },
    /** After a (re)bootstrap: shows the saved items not shown yet and sends. */
    resume() {
      items.forEach((item) => {
        if (!pending[item.id]) {
          pending[item.id] = item;
          hooks.changed(item);
        }
      });
      pump();
    },
    /** A stored message arrived with this client_msg_id: drop its pending copy. */
    settle(clientMsgId) {
      const item = clientMsgId && pending[clientMsgId];
      if (item) settle(item);
    },
    pump,
  };
}
