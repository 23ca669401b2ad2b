// transport.js: the fetch wrapper, the retry loop and the challenge wrapper.
import { test } from "node:test";
import assert from "node:assert/strict";
import { challenged, createTransport, retrying } from "../src/transport.js";
import { answer, scriptedApi } from "./fakes.mjs";

function fakeFetch(respond) {
  const requests = [];
  const fetch = (url, init) => {
    requests.push({ url, init });
    return respond(url, init);
  };
  return { fetch, requests };
}

function response(status, body, headers = {}) {
  return Promise.resolve({
    status,
    text: () => Promise.resolve(body),
    headers: { get: (name) => headers[name] ?? null },
  });
}

/** retrying() with the pauses recorded instead of waited. */
function run(api, options = {}) {
  const waits = [];
  const done = retrying(() => api.call("POST", "/x"), {
    ...options,
    wait: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  return { done, waits };
}

test("call sends JSON with the session and the language, and parses the answer", async () => {
  const { fetch, requests } = fakeFetch(() => response(201, '{"id": 7}'));
  const call = createTransport({ api: "https://crm/api/widget", session: () => "s1", lang: () => "ru", fetch });
  const got = await call("POST", "/messages", { body: "hi" });
  assert.deepEqual(got, { status: 201, data: { id: 7 }, retry: 5 });
  const [{ url, init }] = requests;
  assert.equal(url, "https://crm/api/widget/messages");
  assert.equal(init.method, "POST");
  assert.equal(init.body, '{"body":"hi"}');
  assert.equal(init.credentials, "omit");
  assert.deepEqual(init.headers, {
    "Accept-Language": "ru",
    Authorization: "Bearer s1",
    "Content-Type": "application/json",
  });
});

test("call sends no Authorization without a session, and FormData as it is", async () => {
  const { fetch, requests } = fakeFetch(() => response(201, ""));
  const call = createTransport({ api: "", session: () => null, lang: () => "en", fetch });
  const form = new FormData();
  form.append("file", new Blob(["x"]), "x.txt");
  const got = await call("POST", "/attachments", form);
  assert.deepEqual(got.data, {});
  assert.equal(requests[0].init.body, form);
  assert.deepEqual(requests[0].init.headers, { "Accept-Language": "en" });
});

test("retry seconds come from the body, else the Retry-After header, else 5", async () => {
  const answers = [
    response(429, '{"retry_after": 3}', { "Retry-After": "9" }),
    response(429, "", { "Retry-After": "9" }),
    response(429, "<html>busy</html>"),
  ];
  const { fetch } = fakeFetch(() => answers.shift());
  const call = createTransport({ api: "", session: () => null, lang: () => "en", fetch });
  assert.equal((await call("GET", "/a")).retry, 3);
  assert.equal((await call("GET", "/a")).retry, 9);
  const notJson = await call("GET", "/a");
  assert.equal(notJson.retry, 5);
  assert.deepEqual(notJson.data, {});
});

test("call rejects when no answer arrives", async () => {
  const { fetch } = fakeFetch(() => Promise.reject(new TypeError("Failed to fetch")));
  const call = createTransport({ api: "", session: () => null, lang: () => "en", fetch });
  await assert.rejects(call("GET", "/a"), TypeError);
});

test("server errors and network errors are retried with a growing pause", async () => {
  const api = scriptedApi([answer(500), new TypeError("offline"), answer(503), answer(200, { ok: 1 })]);
  const { done, waits } = run(api);
  assert.deepEqual((await done).data, { ok: 1 });
  assert.equal(api.calls.length, 4);
  assert.deepEqual(waits, [1000, 2000, 4000]);
});

test("a 4xx answer other than 429 is final, not retried", async () => {
  for (const status of [400, 401, 403, 404, 413, 422]) {
    const api = scriptedApi([answer(status), answer(200)]);
    const { done, waits } = run(api);
    assert.equal((await done).status, status);
    assert.equal(api.calls.length, 1);
    assert.deepEqual(waits, []);
  }
});

test("a 429 waits the Retry-After seconds and does not count as an attempt", async () => {
  const api = scriptedApi([answer(429, {}, 7), answer(502), answer(429, {}, 2), answer(201)]);
  const told = [];
  const { done, waits } = run(api, { onWait: (a, ms) => told.push([a && a.status, ms]) });
  assert.equal((await done).status, 201);
  assert.deepEqual(waits, [7000, 1000, 2000]);
  assert.deepEqual(told, [
    [429, 7000],
    [502, 1000],
    [429, 2000],
  ]);
});

test("a network error is rethrown when the caller does not retry it", async () => {
  const api = scriptedApi([new TypeError("offline"), answer(200)]);
  const { done } = run(api, { again: (a) => !!a && a.status === 429 });
  await assert.rejects(done, /offline/);
  assert.equal(api.calls.length, 1);
});

test("a 428 challenge is solved and the call repeated with the solution", async () => {
  const challenge = { algorithm: "SHA-256", challenge: "ab", salt: "s", maxnumber: 9 };
  const api = scriptedApi([answer(428, { challenge }), answer(200, { ok: 1 })]);
  const solved = [];
  const send = challenged(
    (solution) => api.call("POST", "/bootstrap", { solution }),
    (c) => {
      solved.push(c);
      return Promise.resolve("proof");
    }
  );
  assert.equal((await send()).status, 200);
  assert.deepEqual(solved, [challenge]);
  assert.deepEqual(
    api.calls.map((c) => c.body.solution),
    [undefined, "proof"]
  );
});

test("a 428 without a challenge is handed back as it is", async () => {
  const api = scriptedApi([answer(428, {})]);
  const send = challenged(
    () => api.call("POST", "/x"),
    () => assert.fail("nothing to solve")
  );
  assert.equal((await send()).status, 428);
});
