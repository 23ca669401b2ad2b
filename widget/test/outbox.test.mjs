// outbox.js: pending sends keyed by client_msg_id, retried with the same id, in order.
import { test } from "node:test";
import { webcrypto } from "node:crypto";
import assert from "node:assert/strict";
import { createOutbox, newClientId } from "../src/outbox.js";
import { answer, manualTimers, scriptedApi, settle } from "./fakes.mjs";

function stored(body, id) {
  return answer(201, { id, body, client_msg_id: null, sender: "visitor" });
}

/** An outbox over a scripted API, recording what it tells the view and what it saves. */
function setup(script, { saved = [], ready = true } = {}) {
  const api = scriptedApi(script);
  const timers = manualTimers();
  const events = [];
  const saves = [];
  let n = 0;
  const box = createOutbox({
    call: api.call,
    saved,
    save: (list) => saves.push(list),
    ready: () => ready,
    pageUrl: () => "https://shop.example/p",
    referrer: () => "https://search.example/?q=shoes",
    setTimeout: timers.setTimeout,
    newId: () => "c-" + ++n,
    hooks: {
      changed: (it) => events.push(["changed", it.id, !!it.retrying, !!it.failed]),
      removed: (it) => events.push(["removed", it.id]),
      sent: (it, message) => events.push(["sent", it.id, message.id]),
      throttled: (a) => events.push(["throttled", a.retry]),
      unauthorized: () => {
        events.push(["unauthorized"]);
        return Promise.resolve();
      },
      failure: (it, a) => "refused " + a.status,
      failed: (it) => events.push(["failed", it.id, it.error]),
    },
  });
  const sends = () => api.calls.filter((c) => c.path === "/messages").map((c) => c.body.client_msg_id);
  return { api, timers, events, saves, box, sends };
}

test("client ids are c- and 24 hex digits, new each time", () => {
  const a = newClientId(webcrypto);
  assert.match(a, /^c-[0-9a-f]{24}$/);
  assert.notEqual(a, newClientId(webcrypto));
  const fixed = newClientId({ getRandomValues: (bytes) => bytes.fill(10) });
  assert.equal(fixed, "c-" + "0a".repeat(12));
});

test("a send that got no answer is retried with the same client_msg_id", async () => {
  const { box, timers, sends, api, events } = setup([new TypeError("reset"), answer(503), stored("hi", 1)]);
  box.add("hi");
  await settle();
  assert.equal(timers.runNext(), 2000); // first retry after 2 s
  await settle();
  assert.equal(timers.runNext(), 4000); // then 4 s
  await settle();
  assert.deepEqual(sends(), ["c-1", "c-1", "c-1"]);
  assert.deepEqual(api.calls[0].body, {
    body: "hi",
    client_msg_id: "c-1",
    attachment_ids: [],
    page_url: "https://shop.example/p",
    referrer: "https://search.example/?q=shoes",
  });
  assert.deepEqual(
    events.filter((e) => e[0] === "changed"),
    [
      ["changed", "c-1", false, false],
      ["changed", "c-1", true, false],
      ["changed", "c-1", true, false],
    ]
  );
  assert.deepEqual(events.slice(-2), [
    ["sent", "c-1", 1],
    ["removed", "c-1"],
  ]);
  assert.deepEqual(box.items, []);
});

test("messages go out one at a time, in the order written", async () => {
  const { box, timers, sends } = setup([answer(500), stored("one", 1), stored("two", 2), stored("three", 3)]);
  box.add("one");
  box.add("two");
  box.add("three");
  await settle();
  assert.deepEqual(sends(), ["c-1"]); // the others wait behind the first
  while (timers.pending.length) {
    timers.runNext();
    await settle();
  }
  assert.deepEqual(sends(), ["c-1", "c-1", "c-2", "c-3"]);
  assert.deepEqual(box.items, []);
});

test("a 429 waits the Retry-After seconds and tells the view", async () => {
  const { box, timers, events, sends } = setup([answer(429, {}, 4), stored("hi", 1)]);
  box.add("hi");
  await settle();
  assert.deepEqual(events.at(-2), ["throttled", 4]);
  assert.equal(timers.runNext(), 4000);
  await settle();
  assert.deepEqual(sends(), ["c-1", "c-1"]);
});

test("a refused message (4xx) is given up, not retried, and the next one goes", async () => {
  const { box, timers, events, sends } = setup([answer(422, { detail: "too long" }), stored("ok", 2)]);
  box.add("x".repeat(20));
  box.add("ok");
  await settle();
  assert.deepEqual(events.find((e) => e[0] === "failed"), ["failed", "c-1", "refused 422"]);
  assert.equal(timers.runNext(), 0);
  await settle();
  assert.deepEqual(sends(), ["c-1", "c-2"]);
  assert.equal(timers.pending.length, 1);
  timers.runNext();
  await settle();
  assert.equal(timers.pending.length, 0); // nothing left: c-1 is not sent again
});

test("a 401 waits for a new session, then sends the same id again", async () => {
  const { box, timers, events, sends } = setup([answer(401), stored("hi", 1)]);
  box.add("hi");
  await settle();
  assert.ok(events.some((e) => e[0] === "unauthorized"));
  assert.equal(timers.runNext(), 0);
  await settle();
  assert.deepEqual(sends(), ["c-1", "c-1"]);
});

test("the stream's echo settles a pending message: it is not sent again", async () => {
  const { box, timers, sends, events } = setup([new TypeError("reset"), stored("never", 9)]);
  box.add("hi");
  await settle();
  box.settle("c-1"); // the message arrived over the stream while the retry waits
  assert.deepEqual(events.at(-1), ["removed", "c-1"]);
  timers.runNext();
  await settle();
  assert.deepEqual(sends(), ["c-1"]);
  assert.deepEqual(box.items, []);
  box.settle("c-unknown"); // ids of other tabs' messages are ignored
  box.settle(null);
});

test("an echo that beats a failed answer stops the retry at once", async () => {
  const { box, timers, sends } = setup([new TypeError("reset")]);
  box.add("hi");
  box.settle("c-1");
  await settle();
  assert.equal(timers.runNext(), 0); // no back-off for a stored message
  await settle();
  assert.deepEqual(sends(), ["c-1"]);
});

test("text messages are saved until stored, as {c, b, a}", async () => {
  const { box, saves } = setup([new TypeError("reset")]);
  box.add("hi");
  await settle();
  assert.deepEqual(saves[0], [{ c: "c-1", b: "hi", a: [] }]);
  box.settle("c-1");
  assert.deepEqual(saves.at(-1), []);
});

test("saved messages from the last page view go out after resume(), with their ids", async () => {
  const saved = [{ c: "c-old", b: "kept", a: [] }, { c: "c-empty", b: "", a: [] }, null];
  const { box, timers, sends, events } = setup([new TypeError("reset"), stored("kept", 5)], { saved });
  assert.deepEqual(
    box.items.map((it) => it.id),
    ["c-old"]
  );
  box.resume();
  await settle();
  assert.deepEqual(events[0], ["changed", "c-old", false, false]);
  assert.equal(timers.runNext(), 2000); // a restored message backs off like a new one
  await settle();
  assert.deepEqual(sends(), ["c-old", "c-old"]);
});

test("nothing is sent before the session is there", async () => {
  const { box, sends } = setup([stored("hi", 1)], { ready: false });
  box.add("hi");
  await settle();
  assert.deepEqual(sends(), []);
});
