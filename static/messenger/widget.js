/*
 * Profi Messenger — the loader (loaded on every page view; keep it small: ≤ 5 KB gzipped).
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
 * Plain ES2019, no build step: served as it is.
 */
(function () {
  "use strict";

  var w = window;
  var d = document;
  var NAME = "ProfiMessenger";
  var previous = w[NAME];
  if (previous && previous._i) return; // the tag is on the page twice: the first one wins

  var script = d.currentScript;
  if (!script || !script.getAttribute("data-widget-token")) {
    // async/deferred or injected by a tag manager: currentScript may be another script
    script = d.querySelector("script[data-widget-token][src*='/widget.js']");
  }
  if (!script) return;
  var token = script.getAttribute("data-widget-token") || "";
  var src = script.src;
  var match = /^(.*)\/static\/messenger\/widget\.js(?:[?#].*)?$/.exec(src);
  var base = match ? match[1] : new URL(src).origin;
  var appSrc = src.replace(/widget\.js(?=[?#]|$)/, "widget-app.js");
  var KEY = "profi-messenger:" + token;

  function load_() {
    try {
      return JSON.parse(w.localStorage.getItem(KEY) || "{}") || {};
    } catch {
      return {};
    }
  }
  function save(patch) {
    var data = load_();
    Object.keys(patch).forEach(function (k) {
      if (patch[k] === undefined) delete data[k];
      else data[k] = patch[k];
    });
    try {
      w.localStorage.setItem(KEY, JSON.stringify(data));
    } catch {
      // storage full or blocked (private mode): the chat still works for this page view
    }
  }
  var stored = load_();
  var lang = /^ru/i.test(stored.l || navigator.language || "") ? "ru" : "en";
  var TEXT = {
    en: { open: "Open chat", close: "Close chat", unread: "unread messages" },
    ru: { open: "Открыть чат", close: "Закрыть чат", unread: "непрочитанных сообщений" },
  };

  var ICON_CHAT =
    '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  var ICON_CLOSE =
    '<svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">' +
    '<path fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';
  var CSS =
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

  function addCss(root, css) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = root.adoptedStyleSheets.concat(sheet);
    } catch {
      var style = d.createElement("style");
      style.textContent = css;
      root.appendChild(style);
    }
  }

  var state = { open: false, launcher: true, unread: 0, ready: false };
  var handlers = {};
  var host, root, wrap, launcher, badge, app, wantApp, loading, opener;

  function emit(name, arg) {
    (handlers[name] || []).slice().forEach(function (fn) {
      try {
        fn(arg);
      } catch (e) {
        setTimeout(function () {
          throw e; // the page's handler failed: report it, keep the widget going
        });
      }
    });
  }

  function loadApp() {
    if (app || loading) return;
    if (!root) {
      wantApp = true;
      return;
    }
    loading = true;
    var s = d.createElement("script");
    s.src = appSrc;
    s.async = true;
    if (script.nonce) s.nonce = script.nonce;
    s.onload = function () {
      s.remove();
    };
    s.onerror = function () {
      loading = false; // try again at the next sign of interest
      s.remove();
    };
    (d.head || d.documentElement).appendChild(s);
  }

  function paint() {
    if (!launcher) return;
    var t = TEXT[lang];
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
      var active = d.activeElement;
      opener = active && active !== d.body && active !== host ? active : null;
    } else if (d.activeElement === host) {
      // focus was in the chat: give it back to whoever opened it, else to the launcher
      var back = opener && opener.isConnected ? opener : state.launcher ? launcher : null;
      if (back) back.focus();
    }
    paint();
    if (app) app.sync();
    else if (open) loadApp();
    emit(open ? "open" : "close");
  }

  var api = {
    open: function () {
      setOpen(true);
    },
    close: function () {
      setOpen(false);
    },
    toggle: function () {
      setOpen(!state.open);
    },
    isOpen: function () {
      return state.open;
    },
    showLauncher: function () {
      state.launcher = true;
      paint();
    },
    hideLauncher: function () {
      state.launcher = false;
      paint();
    },
    on: function (name, fn) {
      if (typeof fn !== "function") return api;
      (handlers[name] = handlers[name] || []).push(fn);
      if (name === "ready" && state.ready) {
        setTimeout(function () {
          fn(api);
        });
      }
      return api;
    },
    off: function (name, fn) {
      handlers[name] = fn
        ? (handlers[name] || []).filter(function (h) {
            return h !== fn;
          })
        : [];
      return api;
    },
  };

  // What widget-app.js needs from the loader (not a public API).
  var internal = {
    token: token,
    base: base,
    lang: lang,
    state: state,
    api: api,
    emit: emit,
    addCss: addCss,
    stored: load_,
    save: save,
    get root() {
      return root;
    },
    get wrap() {
      return wrap;
    },
    get launcher() {
      return launcher;
    },
    setLang: function (value) {
      lang = internal.lang = value === "ru" ? "ru" : "en";
      paint();
    },
    setUnread: function (n) {
      if (n === state.unread) return;
      state.unread = n;
      paint();
      emit("unread", n);
    },
    setAppearance: function (a) {
      if (!a || !wrap) return;
      if (/^#[0-9a-f]{6}$/i.test(a.color || "")) wrap.style.setProperty("--pm-c", a.color);
      wrap.classList.toggle("left", a.position === "left");
    },
    mount: function (factory) {
      if (app) return;
      app = factory(internal);
      app.sync();
    },
  };
  Object.defineProperty(api, "_i", { value: internal });

  function interest() {
    loadApp();
  }

  function mount() {
    if (root) return;
    host = d.createElement("profi-messenger");
    var props = {
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
    Object.keys(props).forEach(function (k) {
      host.style.setProperty(k, props[k], "important");
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
    ["pointerenter", "focus", "touchstart"].forEach(function (ev) {
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
    var el = e.target;
    return el && el.closest ? el.closest("[data-profi-messenger]") : null;
  }
  d.addEventListener("click", function (e) {
    var el = target(e);
    var action = el && el.getAttribute("data-profi-messenger");
    if (action === "open" || action === "toggle" || action === "close") {
      e.preventDefault();
      api[action]();
    }
  });
  ["pointerover", "focusin"].forEach(function (ev) {
    d.addEventListener(ev, function (e) {
      if (target(e)) interest();
    });
  });

  w[NAME] = api;
  // Calls made through the stub before this script ran: handlers first, so "ready" reaches them.
  ((previous && previous.q) || []).forEach(function (call) {
    var fn = call && api[call[0]];
    if (typeof fn === "function" && call[0] !== "isOpen") fn.apply(api, [].slice.call(call, 1));
  });
  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
})();
