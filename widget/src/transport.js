/**
 * Talking to the Widget API: one fetch wrapper, and the one retry policy every caller uses —
 * the server's Retry-After on 429, else an exponential back-off (1 s, 2 s, 4 s… up to 30 s).
 * No DOM here: fetch and the clock can be injected, so `node --test` runs it.
 */

/** A pause of `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The pause before retry number `attempt` (0 = the first retry): base · 2^attempt, at most
 * `cap`, times a random factor in [1 − jitter, 1 + jitter) (jitter 0: exact).
 */
export function backoff(attempt, { base = 1000, cap = 30000, jitter = 0, random = Math.random } = {}) {
  return Math.min(cap, base * Math.pow(2, attempt)) * (1 - jitter + random() * 2 * jitter);
}

/** A 429 answer: the server said how long to wait. */
export function isThrottled(answer) {
  return !!answer && answer.status === 429;
}

/** Worth sending again as it is: no answer (0), timeout, throttled, or a server error. */
export function isRetryable(status) {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** How long to wait before repeating a call that got `answer`: Retry-After if throttled, else `otherwise` ms. */
export function retryDelay(answer, otherwise) {
  return isThrottled(answer) ? answer.retry * 1000 : otherwise;
}

/**
 * Calls `send()` until its answer is final, then resolves with that answer.
 *
 * - `again(answer)` decides whether to repeat; `answer` is null after a network error (a
 *   rejected `send()`), which is rethrown when `again(null)` is false. By default: network
 *   errors and retryable statuses are repeated, other 4xx answers are final.
 * - The pause is `retryDelay`: Retry-After for a 429 (which does not count as an attempt),
 *   else `backoff(attempt, backoffOptions)`.
 * - `onWait(answer, ms)` is told before each pause (to show a notice).
 */
export function retrying(
  send,
  {
    again = (answer) => !answer || isRetryable(answer.status),
    onWait = () => {},
    wait = sleep,
    backoff: backoffOptions,
  } = {}
) {
  let attempt = 0;
  function pause(answer) {
    const ms = retryDelay(answer, isThrottled(answer) ? 0 : backoff(attempt++, backoffOptions));
    onWait(answer, ms);
    return wait(ms).then(run);
  }
  function run() {
    return send().then(
      (answer) => (again(answer) ? pause(answer) : answer),
      (error) => {
        if (again(null)) return pause(null);
        throw error;
      }
    );
  }
  return run();
}

/**
 * Wraps `send(solution)` so that a 428 answer carrying a proof-of-work challenge is solved
 * with `solve(challenge)` and the call repeated with the solution.
 */
export function challenged(send, solve) {
  function attempt(solution) {
    return send(solution).then((answer) =>
      answer.status === 428 && answer.data.challenge ? solve(answer.data.challenge).then(attempt) : answer
    );
  }
  return attempt;
}

/**
 * The Widget API client. `call(method, path, body)` resolves with {status, data, retry}
 * (data: the parsed JSON or {}; retry: seconds to wait, from retry_after or Retry-After, 5 if
 * neither) and rejects only when no answer arrived. A body that is not FormData goes as JSON.
 *
 * `session()` and `lang()` are read at each call: the bearer token and the language the
 * server answers errors in.
 */
export function createTransport({ api, session, lang, fetch: fetchFn = (url, init) => fetch(url, init) }) {
  return function call(method, path, body) {
    const headers = { "Accept-Language": lang() }; // error details come back in the widget's language
    const token = session();
    if (token) headers.Authorization = "Bearer " + token;
    if (body && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(body);
    }
    return fetchFn(api + path, { method, headers, body, mode: "cors", credentials: "omit" }).then(
      (response) =>
        response.text().then((text) => {
          let data = {};
          try {
            data = text ? JSON.parse(text) : {};
          } catch {
            data = {};
          }
          const retry = Number(data.retry_after || response.headers.get("Retry-After")) || 5;
          return { status: response.status, data: data || {}, retry };
        })
    );
  };
}
