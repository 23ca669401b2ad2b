/**
 * The chat, built into static/messenger/widget-app.js and loaded by widget.js when the
 * visitor shows interest. It mounts itself into the loader (`ProfiMessenger._i`).
 *
 * Speaks the Widget API (docs/widget-api.md): bootstrap (the session token is kept in
 * localStorage per widget token), live events (live.js), idempotent sends (outbox.js),
 * typing, read and delivered receipts, attachments, the offline form (offline.js),
 * throttling (429) and the ALTCHA proof-of-work challenge (428, pow.js). Everything a person
 * wrote is put in the page with textContent, never as HTML (view.js).
 */
import { attr, el } from "./dom.js";
import { trapFocus } from "./a11y.js";
import { translator } from "./strings.js";
import { challenged, createTransport, isThrottled, retrying } from "./transport.js";
import { solveChallenge } from "./pow.js";
import { createOutbox, newClientId } from "./outbox.js";
import { createLive } from "./live.js";
import { createOfflineForm } from "./offline.js";
import { createPrechat } from "./prechat.js";
import { createCsat } from "./csat.js";
import { createTranscript } from "./transcript.js";
import { csatDue } from "./visitor.js";
import { CSS, buildWindow, drawMessage, drawTyping, formatSize, formatTypes } from "./view.js";

/** The chat for the loader's internal interface `core`; returns {sync} for the loader. */
function createApp(core) {
  const d = document;
  const API = core.base + "/api/widget";
  let lang = core.lang;
  let boot = null; // the bootstrap answer
  let session = core.stored().s || null;
  const byId = {}; // message id -> {m, row}
  let lastId = 0;
  let readUpTo = 0;
  let receiptRead = 0;
  const ownReads = {};
  let booting = null;
  let offlineForm = false;
  let prechatForm = false;

  const t = translator(() => lang);
  const size = (bytes) => formatSize(bytes, lang);
  const typesText = () => formatTypes(boot.attachments.content_types);
  const pageUrl = () => location.href.slice(0, 2000);
  const referrer = () => document.referrer.slice(0, 2000) || null;
  const call = createTransport({ api: API, session: () => session, lang: () => lang });

  // --- the window --------------------------------------------------------------------------

  core.addCss(core.root, CSS);
  const offline = createOfflineForm({
    t,
    call,
    solve,
    rebootstrap,
    showNotice,
    pageUrl,
    referrer,
    clientId: newClientId(),
    sent(message, email) {
      hideNotice();
      offlineForm = false;
      layout();
      add(message, false);
      ui.log.appendChild(el("div", "of-info", t("thanks", { email })));
      scrollDown(true);
      ui.input.focus();
    },
  });
  const ui = buildWindow(offline.form);
  const { win, log, input } = ui;
  const prechat = createPrechat({
    t,
    call,
    privacy: () => boot && boot.privacy,
    done() {
      core.save({ pc: 1 });
      prechatForm = false;
      layout();
      input.focus();
    },
  });
  const csat = createCsat({
    t,
    call,
    conversationId: () => boot && boot.conversation_id,
    rated: (id) => core.save({ r: id }),
  });
  const transcript = createTranscript({ t, call, conversationId: () => boot && boot.conversation_id });
  win.insertBefore(transcript.el, ui.privacy);
  win.insertBefore(prechat.form, ui.composer);
  win.insertBefore(csat.el, ui.composer);
  core.launcher.setAttribute("aria-controls", "pm-window");
  ui.closeBtn.addEventListener("click", core.api.close);
  core.wrap.appendChild(win);

  /** Writes every label in the current language, and the title and status from bootstrap. */
  function texts() {
    core.wrap.setAttribute("lang", lang);
    const a = (boot && boot.appearance) || {};
    ui.title.textContent = a.title || t("title");
    ui.status.textContent = !boot ? "" : boot.online ? t("online") : t("offline");
    win.classList.toggle("off", !!boot && !boot.online);
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.closeBtn.title = t("close");
    log.setAttribute("aria-label", t("log"));
    ui.inputLabel.textContent = t("input");
    input.placeholder = t("placeholder");
    ui.attachBtn.setAttribute("aria-label", t("attach"));
    ui.attachBtn.title = t("attach");
    ui.sendBtn.setAttribute("aria-label", t("send"));
    ui.sendBtn.title = t("send");
  }
  texts();

  /** Shows the window or the offline form in place of the composer, as the state says. */
  function layout() {
    const open = core.state.open;
    win.hidden = !open;
    core.wrap.classList.toggle("open", open);
    ui.composer.hidden = offlineForm || prechatForm;
    ui.limits.hidden = offlineForm || prechatForm;
    offline.form.hidden = !offlineForm;
    prechat.form.hidden = offlineForm || !prechatForm;
    transcript.show(!!boot && boot.transcript && !!boot.conversation_id && !offlineForm && !prechatForm);
  }

  // --- notices (a polite live region) ------------------------------------------------------

  let noticeTimer = null;
  let noticeKey = null;
  /** Shows notice `key`; with `seconds`, a countdown "{n}" ticking every second. */
  function showNotice(key, seconds) {
    clearInterval(noticeTimer);
    noticeKey = key;
    const until = Date.now() + (seconds || 0) * 1000;
    function paint() {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      ui.notice.textContent = t(key, { n: left });
      if (seconds && !left) clearInterval(noticeTimer);
    }
    paint();
    ui.notice.hidden = false;
    if (seconds) noticeTimer = setInterval(paint, 1000);
  }
  /** Hides the notice (only if it is notice `key`, when given). */
  function hideNotice(key) {
    if (key && key !== noticeKey) return;
    clearInterval(noticeTimer);
    noticeKey = null;
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  /** Solves a proof-of-work challenge with a visible notice. */
  function solve(challenge) {
    showNotice("challenge");
    return solveChallenge(challenge).then(
      (solution) => {
        hideNotice("challenge");
        return solution;
      },
      (err) => {
        hideNotice("challenge");
        throw err;
      }
    );
  }

  // --- bootstrap ---------------------------------------------------------------------------

  const bootstrapOnce = challenged(
    (solution) =>
      call("POST", "/bootstrap", {
        widget_token: core.token,
        session_token: session,
        page_url: pageUrl(),
        referrer: d.referrer ? d.referrer.slice(0, 2000) : null,
        locale: (navigator.language || "").slice(0, 35) || null,
        ...(solution ? { challenge_solution: solution } : {}),
        ...(core.identity ? { identity: core.identity } : {}),
      }),
    solve
  );

  /**
   * Starts (or resumes) the session. Retried until it works, except when the site is refused
   * (403) or the token unknown (404): resolves with the bootstrap data, or null then.
   */
  function bootstrap() {
    return retrying(() => bootstrapOnce(), {
      again: (answer) => !answer || [200, 401, 403, 404].indexOf(answer.status) < 0,
      onWait: (answer) => (isThrottled(answer) ? showNotice("busy", answer.retry) : showNotice("retry")),
    }).then((answer) => {
      if (answer.status === 200) {
        hideNotice();
        return started(answer.data);
      }
      // A refused identity never falls back to an anonymous chat on its own.
      showNotice(answer.status === 401 ? "identityFailed" : "unavailable");
      if (window.console) console.warn("ProfiMessenger: " + (answer.data.detail || answer.status));
      return null;
    });
  }

  /** One bootstrap at a time for everyone who met a 401. */
  function rebootstrap() {
    if (!booting) {
      booting = bootstrap().then((b) => {
        booting = null;
        return b;
      });
    }
    return booting;
  }

  function started(data) {
    const first = !boot;
    boot = data;
    session = data.session_token;
    lang = data.locale === "ru" || data.locale === "en" ? data.locale : lang;
    core.setLang(lang);
    core.setAppearance(data.appearance);
    core.save({
      s: session,
      h: data.conversation ? 1 : undefined, // a conversation: load at once on the next page view
      l: lang,
      c: data.appearance.color,
      p: data.appearance.position,
    });
    texts();
    if (first) {
      if (data.greeting) {
        const greeting = el("div", "m op gr");
        greeting.appendChild(el("div", "bb", data.greeting));
        log.insertBefore(greeting, log.firstChild);
      }
      renderPrivacy();
      renderAttachmentPolicy();
    }
    ui.offlineBanner.textContent = data.offline_message || t("offlineDefault");
    ui.offlineBanner.hidden = data.online;
    offlineForm = !data.online && !data.conversation && !Object.keys(byId).length;
    const pc = data.prechat;
    prechatForm = pc.enabled && pc.fields.length > 0 && !data.conversation && !core.stored().pc;
    if (prechatForm) prechat.show(pc.fields);
    if (data.conversation) boot.conversation_id = data.conversation.id;
    data.messages.forEach((m) => {
      add(m, true);
    });
    layout();
    unread();
    askRating();
    live.connect(data.stream_ticket);
    outbox.resume();
    markRead();
    return data;
  }

  function renderPrivacy() {
    ui.privacy.textContent = "";
    const p = boot.privacy || {};
    if (p.text) ui.privacy.appendChild(d.createTextNode(p.text + " "));
    if (/^https?:\/\//i.test(p.url || "")) {
      ui.privacy.appendChild(attr(el("a", null, t("privacy")), { href: p.url, target: "_blank", rel: "noopener" }));
    }
  }
  function renderAttachmentPolicy() {
    const policy = boot.attachments;
    ui.attachBtn.hidden = !policy.enabled;
    ui.limits.textContent = policy.enabled ? t("limits", { size: size(policy.max_bytes), types: typesText() }) : "";
    ui.fileInput.accept = policy.content_types.join(",");
  }

  // --- messages ----------------------------------------------------------------------------

  const draw = (m) => drawMessage(m, { t, lang, base: core.base });

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollDown(force) {
    if (force || nearBottom()) log.scrollTop = log.scrollHeight;
  }

  /** Stored messages in id order, before the ones still being sent (row._id 0). */
  function place(row, id) {
    const rows = log.children;
    for (let k = 0; k < rows.length; k++) {
      const other = rows[k]._id;
      if (other === 0 || (other && other > id)) return log.insertBefore(row, rows[k]);
    }
    log.appendChild(row);
  }

  /** Shows a stored message once, whichever way it came (history, answer, stream, poll). */
  function add(m, history) {
    if (!m || typeof m.id !== "number") return;
    const known = byId[m.id];
    if (known) {
      // a replay or an echo of what we have: keep the newest receipt times
      known.m.delivered_at = known.m.delivered_at || m.delivered_at;
      known.m.read_at = known.m.read_at || m.read_at;
      redraw(known);
      return;
    }
    if (m.id > lastId) lastId = m.id;
    if (!core.stored().h) core.save({ h: 1 });
    if (boot && m.conversation_id && boot.conversation_id !== m.conversation_id) {
      boot.conversation_id = m.conversation_id;
      layout();
    }
    const stick = nearBottom();
    outbox.settle(m.client_msg_id);
    const entry = { m, row: draw(m) };
    byId[m.id] = entry;
    if (entry.row) {
      entry.row._id = m.id;
      place(entry.row, m.id);
    }
    if (m.sender === "operator") showTyping(false);
    if (m.sender === "visitor" && m.id <= receiptRead) m.read_at = m.read_at || "receipt";
    scrollDown(stick || m.sender === "visitor");
    if (!history && m.kind !== "event") {
      core.emit("message", {
        id: m.id,
        sender: m.sender,
        body: m.body,
        author: m.author,
        created_at: m.created_at,
        attachments: m.attachments,
      });
    }
    unread();
    markRead();
    if (m.kind === "event") askRating();
  }

  /** After an operator resolves: the rating, unless the inbox does not ask or it was given. */
  function askRating() {
    const due = boot && boot.csat.enabled ? csatDue(Object.keys(byId).map((id) => byId[id].m), core.stored().r) : 0;
    if (due) csat.ask(due);
    else csat.hide();
  }

  /**
   * Starts over as another visitor: the identity changed (identify) or ended (logout, in this
   * tab or another). Nothing of the previous visitor stays on screen.
   */
  function reset() {
    const go = () => {
      booting = null;
      session = null;
      boot = null;
      Object.keys(byId).forEach((id) => delete byId[id]);
      lastId = readUpTo = receiptRead = 0;
      log.textContent = "";
      csat.hide();
      hideNotice();
      core.setUnread(0);
      return rebootstrap();
    };
    return booting ? booting.then(go, go) : go();
  }

  function redraw(entry) {
    if (!entry.row) return;
    const row = draw(entry.m);
    row._id = entry.row._id;
    log.replaceChild(row, entry.row);
    entry.row = row;
  }

  // --- unread and read -------------------------------------------------------------------

  function isUnread(m) {
    return m.sender !== "visitor" && m.kind !== "event" && !m.read_at && m.id > readUpTo;
  }
  function unread() {
    let n = 0;
    Object.keys(byId).forEach((id) => {
      if (isUnread(byId[id].m)) n++;
    });
    core.setUnread(n);
  }
  /** Marks the operator's messages read, only while the window is open and the tab visible. */
  function markRead() {
    if (!boot || !core.state.open || d.visibilityState !== "visible") return;
    let top = 0;
    Object.keys(byId).forEach((id) => {
      const m = byId[id].m;
      if (isUnread(m) && m.id > top) top = m.id;
    });
    if (!top) return;
    readUpTo = top;
    ownReads[top] = true; // our own read comes back as a receipt: it is not the operator's
    unread();
    call("POST", "/read", { up_to_id: top }).catch(() => {});
  }
  d.addEventListener("visibilitychange", markRead);

  /** The operator's delivered/read receipt: ticks on the visitor's messages up to its id. */
  function receipt(r) {
    if (!r || typeof r.up_to_id !== "number" || r.by === "visitor") return; // ticks show the operator's side
    if (!r.by && r.kind === "read" && ownReads[r.up_to_id]) return; // servers without "by"
    if (r.kind === "read") receiptRead = Math.max(receiptRead, r.up_to_id);
    Object.keys(byId).forEach((id) => {
      const entry = byId[id];
      const m = entry.m;
      if (m.sender !== "visitor" || m.id > r.up_to_id) return;
      const field = r.kind === "read" ? "read_at" : "delivered_at";
      if (!m[field]) {
        m[field] = r.at || "receipt";
        redraw(entry);
      }
    });
  }

  // --- typing ------------------------------------------------------------------------------

  let typingTimer = null;
  function showTyping(on, name) {
    clearTimeout(typingTimer);
    drawTyping(ui.typingRow, on ? t("typing", { name: name || t("operator") }) : "");
    if (on) typingTimer = setTimeout(showTyping, 8000, false); // a lost "stopped" event must not stick
  }

  let typingSent = 0;
  let typingIdle = null;
  /** Tells operators the visitor types: at most every 3 s, "stopped" after 4 s idle. */
  function typing() {
    if (!boot || !input.value || !lastId) return; // nobody to tell before the first message
    const now = Date.now();
    if (now - typingSent > 3000) {
      typingSent = now;
      call("POST", "/typing", { typing: true }).catch(() => {});
    }
    clearTimeout(typingIdle);
    typingIdle = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(typingIdle);
    if (!typingSent) return;
    typingSent = 0;
    call("POST", "/typing", { typing: false }).catch(() => {});
  }

  // --- live events -------------------------------------------------------------------------

  const live = createLive({
    api: API,
    call,
    lastId: () => lastId,
    // No faster than the server allows; 1.5 s also keeps within the default 40 polls a minute.
    pollGap: () => Math.max(1500, (boot.poll_interval_seconds || 1) * 1000 + 50),
    on: {
      message: (m) => add(m, false),
      typing(data) {
        if (data.sender !== "visitor") showTyping(!!data.typing, data.author && data.author.name);
      },
      receipt,
      unauthorized: rebootstrap,
    },
  });

  // --- sending -----------------------------------------------------------------------------

  /** Draws (or redraws) a message still in the outbox, after the stored ones. */
  function drawPending(item) {
    if (item.done) return; // already stored (the stream's echo can beat the answer to the send)
    const row = draw({
      sender: "visitor",
      kind: "message",
      body: item.body,
      attachments: item.file ? [{ filename: item.file.name, size: item.file.size }] : item.attachments,
      failed: item.failed,
      retrying: item.retrying,
      error: item.error,
    });
    row._id = 0;
    if (item.row && item.row.parentNode) log.replaceChild(row, item.row);
    else log.appendChild(row);
    item.row = row;
    scrollDown(true);
  }

  const outbox = createOutbox({
    call,
    saved: core.stored().o || [],
    save: (list) => core.save({ o: list }),
    ready: () => !!boot,
    pageUrl,
    referrer,
    hooks: {
      changed: drawPending,
      removed(item) {
        if (item.row && item.row.parentNode) item.row.remove();
      },
      sent(item, message) {
        hideNotice("throttled");
        hideNotice("retry");
        add(message, false);
      },
      throttled: (answer) => showNotice("throttled", answer.retry),
      unauthorized: rebootstrap,
      failure(item, answer) {
        const name = item.file ? item.file.name : "";
        if (answer.status === 413) return t("tooLarge", { name, size: size(boot.attachments.max_bytes) });
        if (answer.status === 415) return t("badType", { name, types: typesText() });
        if (item.file) return t("noUpload", { name });
        return t("failed") + (answer.data.detail ? ": " + answer.data.detail : "");
      },
      failed(item) {
        drawPending(item);
        ui.errorLine.textContent = item.error;
      },
    },
  });
  window.addEventListener("online", () => outbox.pump());

  ui.composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    ui.errorLine.textContent = "";
    stopTyping();
    outbox.add(body);
    input.focus();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      if (ui.composer.requestSubmit) ui.composer.requestSubmit();
      else ui.sendBtn.click();
    }
  });
  input.addEventListener("input", typing);
  ui.attachBtn.addEventListener("click", () => {
    ui.fileInput.click();
  });
  ui.fileInput.addEventListener("change", () => {
    const files = Array.prototype.slice.call(ui.fileInput.files || []);
    ui.fileInput.value = "";
    ui.errorLine.textContent = "";
    files.forEach((file) => {
      if (file.size > boot.attachments.max_bytes) {
        ui.errorLine.textContent = t("tooLarge", { name: file.name, size: size(boot.attachments.max_bytes) });
        return;
      }
      outbox.add("", file);
    });
  });

  // --- keyboard: Esc closes, Tab stays inside the open window ----------------------------

  trapFocus(core, win);

  // --- the loader calls this whenever open / closed / launcher changes -------------------

  let wasOpen = false;
  function sync() {
    offline.paint();
    layout();
    const open = core.state.open;
    if (open && !wasOpen) {
      scrollDown(true);
      const target = offlineForm ? offline.form.querySelector("input") : prechatForm ? prechat.form.querySelector("input") : input;
      setTimeout(() => {
        if (core.state.open) (target || win).focus();
      });
      markRead();
    }
    wasOpen = open;
  }

  bootstrap().then(() => {
    offline.paint();
    layout();
    const active = core.root.activeElement;
    if (core.state.open && (!active || !win.contains(active) || !active.getClientRects().length)) {
      (offlineForm ? offline.form.querySelector("input") : prechatForm ? prechat.form.querySelector("input") : input).focus();
    }
  });
  return { sync, reset };
}

const loader = window.ProfiMessenger && window.ProfiMessenger._i;
if (loader) loader.mount(createApp);
