// The one back-off formula every retry in the widget uses (widget/src/transport.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoff, isRetryable, retryDelay } from "../src/transport.js";

test("back-off doubles from 1 s", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((n) => backoff(n)),
    [1000, 2000, 4000, 8000, 16000]
  );
});

test("back-off is capped at 30 s", () => {
  assert.equal(backoff(5), 30000);
  assert.equal(backoff(50), 30000);
  assert.equal(backoff(3, { base: 500, cap: 3000 }), 3000);
});

test("jitter stays within ±jitter of the exact delay", () => {
  const low = backoff(2, { jitter: 0.2, random: () => 0 });
  const high = backoff(2, { jitter: 0.2, random: () => 0.999999 });
  assert.equal(low, 3200);
  assert.ok(high < 4800 && high > 4799, String(high));
  for (let i = 0; i < 200; i++) {
    const delay = backoff(10, { jitter: 0.2 });
    assert.ok(delay >= 24000 && delay < 36000, String(delay));
  }
});

test("without jitter the random source is not used for the value", () => {
  assert.equal(backoff(1, { random: () => 0.7 }), 2000);
});

test("a 429 waits for the server's Retry-After, anything else for the given pause", () => {
  assert.equal(retryDelay({ status: 429, retry: 7 }, 1000), 7000);
  assert.equal(retryDelay({ status: 503, retry: 7 }, 1000), 1000);
  assert.equal(retryDelay(null, 2000), 2000);
});

test("retryable: no answer, timeout, throttled and server errors; not other 4xx", () => {
  assert.deepEqual(
    [0, 408, 429, 500, 502, 503].map(isRetryable),
    [true, true, true, true, true, true]
  );
  assert.deepEqual(
    [200, 201, 400, 401, 403, 404, 413, 415, 422, 428].map(isRetryable),
    Array(10).fill(false)
  );
});
