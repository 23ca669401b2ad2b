/**
 * The loader, built into static/messenger/widget.js: loaded on every page view, so it stays
 * small (≤ 5 KB gzipped).
 *
 * Embed: <script src="https://CRM/static/messenger/widget.js" data-widget-token="wt_…" async></script>
 *
 * It finds its own <script>, takes the API base from that script's URL, defines
 * window.ProfiMessenger (running the calls queued by the stub snippet, see docs/widget.md),
 * and renders only the launcher, inside a Shadow DOM root of its own fixed host element:
 * no global styles, no host element moved. No network call is made until the visitor shows
 * interest (hover, focus or click on the launcher or on a [data-profi-messenger] element, or
 * an API call); then it loads widget-app.js (the chat) from the same place. Exception: a
 * returning visitor whose stored session has a conversation gets the chat at once, so the
 * unread badge is right.
 *
 * The chat reaches the loader through `ProfiMessenger._i` (`internal` below): keep that
 * interface stable, a browser may hold a cached widget.js of another version than widget-app.js.
 */
import { addCss } from "./dom.js";
import { LAUNCHER_TEXT, pickLang } from "./strings.js";
import { openerOf, returnFocus } from "./a11y.js";
import { cleanIdentity } from "./visitor.js";

const NAME = "ProfiMessenger";
/** What a change of visitor removes from the stored state (session, history flag, outbox, …). */
const FORGET = { s: undefined, h: undefined, o: undefined, i: undefined, r: undefined, pc: undefined };

const ICON_CHAT =
  '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">' +
  '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
const ICON_CLOSE =
  '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">' +
  '<path fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';

// Short class names: .pm the wrapper, .l the launcher, .b its unread badge.
const CSS =
  ".pm{all:initial;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#111827;--pm-c:#2563eb}" +
  ".pm *,.pm *::before,.pm *::after{box-sizing:border-box}" +
  ".l{position:fixed;bottom:20px;right:20px;width:56px;height:56px;margin:0;padding:0;border:0;border-radius:50%;" +
  "background:var(--pm-c);color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;" +
  "box-shadow:0 4px 14px rgba(0,0,0,.28);z-index:1}" +
  ".left .l{right:auto;left:20px}" +
  ".l[hidden]{display:none}" +
  ".l:focus-visible{outline:3px solid #93c5fd;outline-offset:3px}" +
  ".b{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;" +
  "background:#dc2626;color:#fff;font:700 12px/20px system-ui,sans-serif;text-align:center}" +
  ".b[hidden]{display:none}" +
  "@media (prefers-reduced-motion:no-preference){.l{transition:transform .15s}.l:hover{transform:scale(1.06)}}";

/** The host element's inline styles (!important): fixed, zero-sized, above the page. */
const HOST_STYLE = {
  all: "initial",
  display: "block",
  position: "fixed",
  "z-index": "2147483000",
  right: "0",
  bottom: "0",
  width: "0",
  height: "0",
  overflow: "visible",
};

/** The <script> that loaded us: currentScript, else (async, tag managers) found by its attributes. */
function findScript() {
  const current = document.currentScript;
  if (current && current.getAttribute("data-widget-token")) return current;
  return document.querySelector("script[data-widget-token][src*='/widget.js']");
}

/** The visitor's stored state (localStorage, one JSON object per widget token). */
function storage(key) {
  function load() {
    try {
      return JSON.parse(window.localStorage.getItem(key) || "{}") || {};
    } catch {
      return {};
    }
  }
  function save(patch) {
    const data = load();
    Object.keys(patch).forEach((k) => {
      if (patch[k] === undefined) delete data[k];
      else data[k] = patch[k];
    });
    try {
      window.localStorage.setItem(key, JSON.stringify(data));
    } catch {
      // storage full or blocked (private mode): the chat still works for this page view
    }
  }
  return { load, save };
}

function start() {
  const d = document;
  const previous = window[NAME];
  if (previous && previous._i) return; // the tag is on the page twice: the first one wins

  const script = findScript();
  if (!script) return;
  const token = script.getAttribute("data-widget-token") || "";
  const src = script.src;
  const match = /^(.*)\/static\/messenger\/widget\.js(?:[?#].*)?$/.exec(src);
  const base = match ? match[1] : new URL(src).origin;
  const appSrc = src.replace(/widget\.js(?=[?#]|$)/, "widget-app.js");
  const key = "profi-messenger:" + token;
  const store = storage(key);
  const stored = store.load();
  let identity = null; // ProfiMessenger.identify(...): sent with every bootstrap of this page
  let loggedOut = stored.x;
  let lang = pickLang(stored.l || navigator.language);

  const state = { open: false, launcher: true, unread: 0, ready: false };
  const handlers = {};
  let host, root, wrap, launcher, badge, app, wantApp, loading, opener;

  /** Calls the page's handlers of `name`; one that throws is reported without stopping the rest. */
  function emit(name, arg) {
    (handlers[name] || []).slice().forEach((fn) => {
      try {
        fn(arg);
      } catch (e) {
        setTimeout(() => {
          throw e; // the page's handler failed: report it, keep the widget going
        });
      }
    });
  }

  /** Loads widget-app.js once (again after a failed load, at the next sign of interest). */
  function loadApp() {
    if (app || loading) return;
    if (!root) {
      wantApp = true;
      return;
    }
    loading = true;
    const s = d.createElement("script");
    s.src = appSrc;
    s.async = true;
    if (script.nonce) s.nonce = script.nonce;
    s.onload = () => {
      s.remove();
    };
    s.onerror = () => {
      loading = false; // try again at the next sign of interest
      s.remove();
    };
    (d.head || d.documentElement).appendChild(s);
  }

  /** Draws the launcher from `state`: icon, label with the unread count, badge. */
  function paint() {
    if (!launcher) return;
    const t = LAUNCHER_TEXT[lang];
    launcher.hidden = !state.launcher;
    launcher.setAttribute("aria-expanded", String(state.open));
    launcher.setAttribute(
      "aria-label",
      (state.open ? t.close : t.open) + (state.unread ? " (" + state.unread + " " + t.unread + ")" : "")
    );
    launcher.innerHTML = state.open ? ICON_CLOSE : ICON_CHAT; // constant markup, never user text
    badge.textContent = state.unread > 99 ? "99+" : String(state.unread);
    badge.hidden = !state.unread || state.open;
    launcher.appendChild(badge);
  }

  function setOpen(open) {
    open = !!open;
    if (open === state.open) return;
    state.open = open;
    if (open) {
      opener = openerOf(d, host);
    } else if (d.activeElement === host) {
      // focus was in the chat: give it back to whoever opened it, else to the launcher
      returnFocus(opener, state.launcher ? launcher : null);
    }
    paint();
    if (app) app.sync();
    else if (open) loadApp();
    emit(open ? "open" : "close");
  }

  /** window.ProfiMessenger (docs/widget.md). */
  const api = {
    open() {
      setOpen(true);
    },
    close() {
      setOpen(false);
    },
    toggle() {
      setOpen(!state.open);
    },
    isOpen() {
      return state.open;
    },
    showLauncher() {
      state.launcher = true;
      paint();
    },
    hideLauncher() {
      state.launcher = false;
      paint();
    },
    on(name, fn) {
      if (typeof fn !== "function") return api;
      (handlers[name] = handlers[name] || []).push(fn);
      if (name === "ready" && state.ready) {
        setTimeout(() => {
          fn(api);
        });
      }
      return api;
    },
    off(name, fn) {
      handlers[name] = fn ? (handlers[name] || []).filter((h) => h !== fn) : [];
      return api;
    },
    /** The host site's signed identity: {identifier, identity_hash, name?, email?, phone?}. */
    identify(o) {
      const next = cleanIdentity(o);
      if (!next) {
        if (window.console) console.warn("ProfiMessenger.identify: identifier and identity_hash are required");
        return api;
      }
      const same = identity && identity.identifier === next.identifier && identity.identity_hash === next.identity_hash;
      if (store.load().i !== next.identifier) store.save(FORGET); // another person: not their session
      store.save({ i: next.identifier });
      identity = next;
      if (same) return api;
      if (app && app.reset) app.reset();
      else loadApp();
      return api;
    },
    /** Forgets the identity and the session in this browser (every tab of it). */
    logout() {
      forget(Date.now());
      return api;
    },
  };

  /** Drops the identity and the stored session; `stamp` tells the other tabs (storage event). */
  function forget(stamp) {
    identity = null;
    store.save(stamp ? { ...FORGET, x: (loggedOut = stamp) } : FORGET);
    if (app && app.reset) app.reset(); // a cached older chat has no reset: it ends at the next load
  }
  window.addEventListener("storage", (e) => {
    if (e.key !== key) return;
    let x;
    try {
      x = JSON.parse(e.newValue || "{}").x;
    } catch {
      return;
    }
    if (x && x !== loggedOut) {
      loggedOut = x;
      forget(0); // logged out in another tab
    }
  });

  // What widget-app.js needs from the loader (not a public API).
  const internal = {
    token,
    base,
    lang,
    state,
    api,
    emit,
    addCss,
    stored: store.load,
    save: store.save,
    get identity() {
      return identity;
    },
    get root() {
      return root;
    },
    get wrap() {
      return wrap;
    },
    get launcher() {
      return launcher;
    },
    setLang(value) {
      lang = internal.lang = value === "ru" ? "ru" : "en";
      paint();
    },
    setUnread(n) {
      if (n === state.unread) return;
      state.unread = n;
      paint();
      emit("unread", n);
    },
    setAppearance(a) {
      if (!a || !wrap) return;
      if (/^#[0-9a-f]{6}$/i.test(a.color || "")) wrap.style.setProperty("--pm-c", a.color);
      wrap.classList.toggle("left", a.position === "left");
    },
    mount(factory) {
      if (app) return;
      app = factory(internal);
      app.sync();
    },
  };
  Object.defineProperty(api, "_i", { value: internal });

  function interest() {
    loadApp();
  }

  /** Builds the host element, its shadow root and the launcher; loads the chat if it is due. */
  function mount() {
    if (root) return;
    host = d.createElement("profi-messenger");
    Object.keys(HOST_STYLE).forEach((k) => {
      host.style.setProperty(k, HOST_STYLE[k], "important");
    });
    root = host.attachShadow({ mode: "open" });
    addCss(root, CSS);
    wrap = d.createElement("div");
    wrap.className = "pm";
    wrap.setAttribute("lang", lang);
    launcher = d.createElement("button");
    launcher.type = "button";
    launcher.className = "l";
    launcher.setAttribute("part", "launcher");
    badge = d.createElement("span");
    badge.className = "b";
    badge.setAttribute("aria-hidden", "true");
    launcher.addEventListener("click", api.toggle);
    ["pointerenter", "focus", "touchstart"].forEach((ev) => {
      launcher.addEventListener(ev, interest, { passive: true });
    });
    wrap.appendChild(launcher);
    root.appendChild(wrap);
    internal.setAppearance({ color: stored.c, position: stored.p });
    paint();
    d.body.appendChild(host);
    // a returning visitor with a conversation (show the unread count) or unsent messages
    if (wantApp || stored.h || (stored.o && stored.o.length)) loadApp();
    state.ready = true;
    emit("ready", api);
  }

  // Any element with data-profi-messenger="open" | "toggle" | "close" drives the chat.
  function target(e) {
    const node = e.target;
    return node && node.closest ? node.closest("[data-profi-messenger]") : null;
  }
  d.addEventListener("click", (e) => {
    const node = target(e);
    const action = node && node.getAttribute("data-profi-messenger");
    if (action === "open" || action === "toggle" || action === "close") {
      e.preventDefault();
      api[action]();
    }
  });
  ["pointerover", "focusin"].forEach((ev) => {
    d.addEventListener(ev, (e) => {
      if (target(e)) interest();
    });
  });

  window[NAME] = api;
  // Calls made through the stub before this script ran: handlers first, so "ready" reaches them.
  ((previous && previous.q) || []).forEach((call) => {
    const fn = call && api[call[0]];
    if (typeof fn === "function" && call[0] !== "isOpen") fn.apply(api, [].slice.call(call, 1));
  });
  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
}

start();
