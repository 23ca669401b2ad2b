// live.js: the stream's reconnects with a fresh ticket, replay from the last id, polling fallback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLive } from "../src/live.js";
import { answer, manualTimers, scriptedApi, settle } from "./fakes.mjs";

class FakeSource {
  static opened = [];
  constructor(url) {
    this.url = url;
    this.listeners = {};
    this.closed = false;
    FakeSource.opened.push(this);
  }
  addEventListener(name, fn) {
    this.listeners[name] = fn;
  }
  close() {
    this.closed = true;
  }
  emit(name, data) {
    this.listeners[name]({ data });
  }
}

function setup(script) {
  FakeSource.opened = [];
  const api = scriptedApi(script);
  const timers = manualTimers();
  const got = [];
  let lastId = 0;
  const live = createLive({
    api: "https://crm/api/widget",
    call: api.call,
    lastId: () => lastId,
    pollGap: () => 1500,
    on: {
      message: (m) => {
        got.push(m.id);
        lastId = Math.max(lastId, m.id);
      },
      typing: () => {},
      receipt: () => {},
      unauthorized: () => got.push("unauthorized"),
    },
    EventSource: FakeSource,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    now: () => 0,
    random: () => 0.5, // no jitter: 1 - 0.2 + 0.5 * 0.4 = 1
  });
  return { api, timers, got, live };
}

test("events are delivered; a broken stream comes back with a new ticket and the last id", async () => {
  const { api, timers, got, live } = setup([answer(201, { ticket: "t2" })]);
  live.connect("t/1");
  const [first] = FakeSource.opened;
  assert.equal(first.url, "https://crm/api/widget/stream?ticket=t%2F1");
  first.emit("message", '{"id": 41}');
  first.emit("message", "not json");
  assert.deepEqual(got, [41]);
  first.onerror();
  assert.ok(first.closed);
  assert.equal(timers.runNext(), 1000);
  await settle();
  assert.deepEqual(api.calls[0], { method: "POST", path: "/stream/ticket", body: undefined });
  assert.equal(FakeSource.opened[1].url, "https://crm/api/widget/stream?ticket=t2&last_event_id=41");
});

test("after three failures in a row it polls too, until a stream opens", async () => {
  const tickets = [answer(201, { ticket: "a" }), answer(201, { ticket: "b" })];
  const { api, timers, got, live } = setup([
    ...tickets,
    answer(200, { messages: [{ id: 3 }, { id: 4 }] }),
    answer(201, { ticket: "c" }),
  ]);
  live.connect("t0");
  const delays = [];
  for (let i = 0; i < 3; i++) {
    FakeSource.opened.at(-1).onerror();
    delays.push(timers.pending.at(-1).ms);
    if (i < 2) {
      timers.runNext();
      await settle();
    }
  }
  assert.deepEqual(delays, [1000, 2000, 4000]);
  assert.ok(live.polling);
  await settle();
  assert.deepEqual(got, [3, 4]);
  assert.ok(api.calls.some((c) => c.path === "/messages?after=0"));
  FakeSource.opened.at(-1).onopen(); // the stream works again
  assert.equal(live.polling, false);
});

test("a 401 for a ticket asks for a new session", async () => {
  const { timers, got, live } = setup([answer(401)]);
  live.connect("t0");
  FakeSource.opened[0].onerror();
  timers.runNext();
  await settle();
  assert.deepEqual(got, ["unauthorized"]);
});
