// Test doubles for the widget's DOM-free modules: a scripted Widget API and a manual clock.

/** Answers the widget's calls in order from `script` (an answer object, or an Error to reject). */
export function scriptedApi(script) {
  const calls = [];
  const queue = [...script];
  function call(method, path, body) {
    calls.push({ method, path, body });
    if (!queue.length) return new Promise(() => {}); // nothing scripted: never answers
    const next = queue.shift();
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
  return { call, calls, queue };
}

/** An answer as transport's call() resolves it. */
export function answer(status, data = {}, retry = 5) {
  return { status, data, retry };
}

/** setTimeout that only runs when told: `timers.pending` lists {fn, ms}; `runNext()` runs the first. */
export function manualTimers() {
  const pending = [];
  return {
    pending,
    setTimeout(fn, ms) {
      const timer = { fn, ms };
      pending.push(timer);
      return timer;
    },
    clearTimeout(timer) {
      const at = pending.indexOf(timer);
      if (at >= 0) pending.splice(at, 1);
    },
    runNext() {
      const timer = pending.shift();
      if (!timer) throw new Error("no timer pending");
      timer.fn();
      return timer.ms;
    },
  };
}

/** Lets every settled promise run its callbacks. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}
