// transcript.js: what each answer of POST /api/widget/transcript shows the visitor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { outcome } from "../src/transcript.js";
import { CHAT_TEXT } from "../src/strings.js";

const answer = (status, data = {}) => ({ status, data, retry: 5 });

test("queued, address needed, bad address, mail off, throttled, anything else", () => {
  assert.deepEqual(outcome(answer(202, { queued: true })), ["sent", "trSent"]);
  assert.deepEqual(outcome(answer(422, { error: "email_required" })), ["ask", "trNeed"]);
  assert.deepEqual(outcome(answer(422, { error: "invalid", detail: "email: not an e-mail address." })), ["error", "trBad"]);
  assert.deepEqual(outcome(answer(409, { error: "unavailable" })), ["off", "trOff"]);
  assert.deepEqual(outcome(answer(429, { error: "throttled" })), ["error", "trLater"]);
  assert.deepEqual(outcome(answer(404, { error: "not_found" })), ["error", "failed"]);
  assert.deepEqual(outcome(answer(503)), ["error", "failed"]);
});

test("every text it shows exists in Russian and English", () => {
  const keys = ["trButton", "trSend", "trEmail", "trSent", "trNeed", "trBad", "trOff", "trLater", "failed", "retry", "email"];
  for (const lang of ["en", "ru"]) {
    for (const key of keys) assert.ok(CHAT_TEXT[lang][key], `${lang}.${key}`);
  }
  assert.notEqual(CHAT_TEXT.ru.trButton, CHAT_TEXT.en.trButton);
});
