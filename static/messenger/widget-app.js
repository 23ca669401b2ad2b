/*
 * Profi Messenger — the chat, loaded by widget.js when the visitor shows interest.
 *
 * Speaks the Widget API (docs/widget-api.md): bootstrap (the session token is kept in
 * localStorage per widget token), SSE with single-use tickets and replay from the highest
 * message id seen, polling as the fallback, idempotent sends (client_msg_id), typing, read
 * and delivered receipts, attachments, the offline form, throttling (429) and the ALTCHA
 * proof-of-work challenge (428). Everything a person wrote is put in the page with
 * textContent, never as HTML.
 *
 * Plain ES2019, no build step: served as it is.
 */
(function () {
  "use strict";

  var PM = window.ProfiMessenger;
  var loader = PM && PM._i;
  if (!loader) return;

  var STRINGS = {
    en: {
      title: "Chat with us",
      online: "We are online",
      offline: "We are offline",
      close: "Close chat",
      log: "Messages",
      input: "Your message",
      placeholder: "Write a message…",
      send: "Send",
      attach: "Attach a file",
      limits: "Files up to {size}: {types}",
      tooLarge: "“{name}” was not sent: it is larger than {size}.",
      badType: "“{name}” was not sent: files of this type are not accepted. Allowed: {types}.",
      noUpload: "“{name}” could not be uploaded.",
      throttled: "Too many messages in a row. Sending again in {n} s.",
      busy: "Too many requests. Trying again in {n} s.",
      challenge: "Checking that you are not a robot…",
      unavailable: "The chat is not available on this site.",
      typing: "{name} is typing…",
      operator: "Operator",
      you: "You",
      sending: "Sending…",
      retrying: "Not sent yet, retrying…",
      failed: "Not sent",
      sent: "Sent",
      delivered: "Delivered",
      read: "Read",
      privacy: "Privacy policy",
      offlineDefault: "Leave us a message and we will answer by e-mail.",
      name: "Your name",
      email: "E-mail",
      message: "Message",
      thanks: "Thank you! We will answer at {email}.",
      invalid: "Please check the fields.",
      retry: "Cannot reach the chat. Trying again…",
      s_resolved: "The conversation was marked as resolved",
      s_closed: "The conversation was closed",
      s_open: "The conversation was reopened",
      assigned: "{name} joined the conversation",
      units: ["B", "KB", "MB"],
    },
    ru: {
      title: "Напишите нам",
      online: "Мы на связи",
      offline: "Сейчас нас нет в сети",
      close: "Закрыть чат",
      log: "Сообщения",
      input: "Ваше сообщение",
      placeholder: "Напишите сообщение…",
      send: "Отправить",
      attach: "Прикрепить файл",
      limits: "Файлы до {size}: {types}",
      tooLarge: "«{name}» не отправлен: файл больше {size}.",
      badType: "«{name}» не отправлен: такие файлы не принимаются. Можно: {types}.",
      noUpload: "Не удалось загрузить «{name}».",
      throttled: "Слишком много сообщений подряд. Отправим снова через {n} с.",
      busy: "Слишком много запросов. Повторим через {n} с.",
      challenge: "Проверяем, что вы не робот…",
      unavailable: "Чат недоступен на этом сайте.",
      typing: "{name} печатает…",
      operator: "Оператор",
      you: "Вы",
      sending: "Отправляется…",
      retrying: "Ещё не отправлено, повторяем…",
      failed: "Не отправлено",
      sent: "Отправлено",
      delivered: "Доставлено",
      read: "Прочитано",
      privacy: "Политика конфиденциальности",
      offlineDefault: "Оставьте сообщение, и мы ответим по электронной почте.",
      name: "Ваше имя",
      email: "Эл. почта",
      message: "Сообщение",
      thanks: "Спасибо! Мы ответим на {email}.",
      invalid: "Проверьте, пожалуйста, поля.",
      retry: "Нет связи с чатом. Пробуем снова…",
      s_resolved: "Диалог отмечен как решённый",
      s_closed: "Диалог закрыт",
      s_open: "Диалог снова открыт",
      assigned: "{name} подключается к диалогу",
      units: ["Б", "КБ", "МБ"],
    },
  };

  var ICON_CLOSE =
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="none" ' +
    'stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';
  var ICON_SEND =
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">' +
    '<path fill="currentColor" d="M3 20.5 21 12 3 3.5 3 10l12 2-12 2z"/></svg>';
  var ICON_CLIP =
    '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false"><path fill="none" ' +
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 ' +
    '3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7.5"/></svg>';

  var CSS =
    ".w{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 24px);height:580px;" +
    "max-height:calc(100vh - 108px);display:flex;flex-direction:column;background:#fff;color:#111827;" +
    "border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden;z-index:2;text-align:left}" +
    ".left .w{right:auto;left:20px}" +
    "@media (max-width:480px){.w,.left .w{inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}" +
    ".open .l{display:none}}" +
    ".h{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--pm-c);color:#fff}" +
    ".ht{flex:1;min-width:0}.tt{margin:0;font-size:16px;font-weight:600;line-height:1.3}" +
    ".st{margin:0;font-size:12px;opacity:.92}" +
    ".st::before{content:'';display:inline-block;width:8px;height:8px;border-radius:50%;background:#4ade80;margin-right:6px}" +
    ".off .st::before{background:#d1d5db}" +
    ".ib{all:unset;box-sizing:border-box;cursor:pointer;width:36px;height:36px;flex:none;display:flex;" +
    "align-items:center;justify-content:center;border-radius:10px;color:#4b5563}" +
    ".h .ib{color:#fff}.sd{background:var(--pm-c);color:#fff}" +
    ".ib:focus-visible,.w textarea:focus-visible,.w input:focus-visible,.lg:focus-visible,.w a:focus-visible," +
    ".ob:focus-visible{outline:2px solid var(--pm-c);outline-offset:1px}.h .ib:focus-visible{outline-color:#fff}" +
    ".nt{padding:8px 14px;background:#fef3c7;color:#78350f;font-size:13px}" +
    ".lg{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f9fafb}" +
    ".m{max-width:84%;display:flex;flex-direction:column;align-items:flex-start}" +
    ".me{align-self:flex-end;align-items:flex-end}" +
    ".ev,.of-info{align-self:center;font-size:12px;color:#6b7280;text-align:center;max-width:100%}" +
    ".au{font-size:12px;color:#6b7280;margin:0 4px 2px}" +
    ".bb{padding:8px 12px;border-radius:14px;background:#fff;border:1px solid #e5e7eb;white-space:pre-wrap;" +
    "overflow-wrap:anywhere;max-width:100%}" +
    ".me .bb{background:var(--pm-c);color:#fff;border-color:transparent}" +
    ".att{display:block;color:inherit;text-decoration:underline}" +
    ".mt{font-size:11px;color:#6b7280;margin:2px 4px 0;display:flex;gap:6px;align-items:center}" +
    ".tk{letter-spacing:-2px}.tk.rd{color:var(--pm-c);font-weight:700}.fl .mt{color:#b91c1c}" +
    ".ty{min-height:20px;padding:2px 14px;font-size:12px;color:#6b7280;background:#f9fafb}" +
    ".cp{display:flex;align-items:flex-end;gap:6px;padding:8px 10px;border-top:1px solid #e5e7eb}" +
    ".w textarea,.w input{font:inherit;color:inherit;background:#fff;border:1px solid #d1d5db;border-radius:10px;" +
    "padding:8px 10px;margin:0;width:100%}" +
    ".cp textarea{flex:1;resize:none;min-height:38px;max-height:120px}" +
    ".lim,.pv,.er{margin:0;padding:0 12px 6px;font-size:11px;color:#6b7280}.er{color:#b91c1c}" +
    ".er:empty,.lim:empty,.pv:empty{display:none}[hidden]{display:none!important}.pv a{color:var(--pm-c)}" +
    ".ob{margin:0;padding:8px 14px;background:#f3f4f6;color:#374151;font-size:13px}" +
    ".of{display:flex;flex-direction:column;gap:8px;padding:10px 14px;border-top:1px solid #e5e7eb}" +
    ".of label{display:flex;flex-direction:column;gap:2px;font-size:12px;color:#374151}" +
    ".of textarea{resize:vertical;min-height:60px}" +
    ".ob-b{all:unset;box-sizing:border-box;cursor:pointer;align-self:flex-end;padding:8px 16px;border-radius:10px;" +
    "background:var(--pm-c);color:#fff;font-weight:600}.ob-b:focus-visible{outline:2px solid #111827;outline-offset:2px}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    ".dots i{display:inline-block;width:4px;height:4px;margin:0 1px;border-radius:50%;background:currentColor}" +
    "@media (prefers-reduced-motion:no-preference){.w{animation:pm-in .18s ease-out}" +
    ".dots i{animation:pm-b 1s infinite}.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}}" +
    "@keyframes pm-in{from{opacity:0;transform:translateY(12px)}}@keyframes pm-b{50%{opacity:.2}}";

  loader.mount(createApp);

  function createApp(core) {
    var d = document;
    var API = core.base + "/api/widget";
    var lang = core.lang;
    var boot = null;
    var session = core.stored().s || null;
    var byId = {}; // message id -> {m, row}
    var pending = {}; // client_msg_id -> outbox item
    var outbox = (core.stored().o || []).filter(function (it) {
      return it && it.c && (it.b || (it.a && it.a.length));
    });
    var lastId = 0;
    var readUpTo = 0;
    var ownReads = {};
    var booting = null;
    var offlineForm = false;

    function t(key, vars) {
      var text = (STRINGS[lang] || STRINGS.en)[key];
      return String(text).replace(/\{(\w+)\}/g, function (_, k) {
        return vars && vars[k] !== undefined ? vars[k] : "";
      });
    }
    function el(tag, cls, text) {
      var e = d.createElement(tag);
      if (cls) e.className = cls;
      if (text !== undefined && text !== null) e.textContent = text;
      return e;
    }
    function attr(e, values) {
      Object.keys(values).forEach(function (k) {
        e.setAttribute(k, values[k]);
      });
      return e;
    }
    function iconButton(cls, icon, label) {
      var b = attr(el("button", "ib " + cls), { type: "button", "aria-label": label, title: label });
      b.innerHTML = icon; // constant markup
      return b;
    }
    function wait(ms) {
      return new Promise(function (resolve) {
        setTimeout(resolve, ms);
      });
    }
    function newId() {
      var bytes = new Uint8Array(12);
      crypto.getRandomValues(bytes);
      return (
        "c-" +
        Array.prototype.map
          .call(bytes, function (b) {
            return (b < 16 ? "0" : "") + b.toString(16);
          })
          .join("")
      );
    }
    function size(bytes) {
      var units = (STRINGS[lang] || STRINGS.en).units;
      var i = bytes >= 1048576 ? 2 : bytes >= 1024 ? 1 : 0;
      var value = bytes / Math.pow(1024, i);
      return (i ? Math.round(value * 10) / 10 : value).toLocaleString(lang) + " " + units[i];
    }
    function typesText() {
      return boot.attachments.content_types
        .map(function (ct) {
          var sub = ct.split("/")[1] || ct;
          return sub === "*" ? ct : sub.replace(/^(x-|vnd\.)/, "").replace("plain", "txt").toUpperCase();
        })
        .join(", ");
    }
    function timeText(iso) {
      var date = new Date(iso);
      if (isNaN(date)) return "";
      var opts = { hour: "2-digit", minute: "2-digit" };
      if (date.toDateString() !== new Date().toDateString()) {
        opts.day = "numeric";
        opts.month = "short";
      }
      return date.toLocaleString(lang, opts);
    }

    // --- HTTP ----------------------------------------------------------------------------

    function call(method, path, body) {
      var headers = { "Accept-Language": lang }; // error details come back in the widget's language
      if (session) headers.Authorization = "Bearer " + session;
      if (body && !(body instanceof FormData)) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(body);
      }
      return fetch(API + path, {
        method: method,
        headers: headers,
        body: body,
        mode: "cors",
        credentials: "omit",
      }).then(function (r) {
        return r.text().then(function (text) {
          var data = {};
          try {
            data = text ? JSON.parse(text) : {};
          } catch {
            data = {};
          }
          var retry = Number(data.retry_after || r.headers.get("Retry-After")) || 5;
          return { status: r.status, data: data || {}, retry: retry };
        });
      });
    }

    // --- the window --------------------------------------------------------------------------

    core.addCss(core.root, CSS);
    var win = attr(el("div", "w"), {
      id: "pm-window",
      role: "dialog",
      "aria-modal": "true",
      "aria-labelledby": "pm-title",
    });
    win.hidden = true;
    core.launcher.setAttribute("aria-controls", "pm-window");
    var head = el("div", "h");
    var heading = el("div", "ht");
    var title = attr(el("h2", "tt"), { id: "pm-title" });
    var status = el("p", "st");
    heading.append(title, status);
    var closeBtn = iconButton("x", ICON_CLOSE, "");
    closeBtn.addEventListener("click", core.api.close);
    head.append(heading, closeBtn);
    var notice = attr(el("div", "nt"), { role: "status", "aria-live": "polite" });
    notice.hidden = true;
    var offlineBanner = el("p", "ob");
    offlineBanner.hidden = true;
    var log = attr(el("div", "lg"), { role: "log", "aria-live": "polite", tabindex: "0" });
    var typingRow = el("div", "ty");
    var composer = el("form", "cp");
    var inputLabel = attr(el("label", "sr"), { for: "pm-input" });
    var input = attr(el("textarea"), { id: "pm-input", rows: "1", maxlength: "10000" });
    var attachBtn = iconButton("at", ICON_CLIP, "");
    attachBtn.hidden = true;
    var fileInput = attr(el("input"), { type: "file", tabindex: "-1", "aria-hidden": "true" });
    fileInput.hidden = true;
    var sendBtn = iconButton("sd", ICON_SEND, "");
    sendBtn.type = "submit";
    composer.append(inputLabel, input, attachBtn, fileInput, sendBtn);
    var limits = el("p", "lim");
    var errorLine = attr(el("p", "er"), { role: "alert" });
    var privacy = el("p", "pv");
    var form = buildOfflineForm();
    form.hidden = true;
    win.append(head, notice, offlineBanner, log, typingRow, composer, form, limits, errorLine, privacy);
    core.wrap.appendChild(win);

    function texts() {
      core.wrap.setAttribute("lang", lang);
      var a = (boot && boot.appearance) || {};
      title.textContent = a.title || t("title");
      status.textContent = !boot ? "" : boot.online ? t("online") : t("offline");
      win.classList.toggle("off", !!boot && !boot.online);
      closeBtn.setAttribute("aria-label", t("close"));
      closeBtn.title = t("close");
      log.setAttribute("aria-label", t("log"));
      inputLabel.textContent = t("input");
      input.placeholder = t("placeholder");
      attachBtn.setAttribute("aria-label", t("attach"));
      attachBtn.title = t("attach");
      sendBtn.setAttribute("aria-label", t("send"));
      sendBtn.title = t("send");
    }
    texts();

    // --- notices -----------------------------------------------------------------------------

    var noticeTimer = null;
    var noticeKey = null;
    function showNotice(key, seconds) {
      clearInterval(noticeTimer);
      noticeKey = key;
      var until = Date.now() + (seconds || 0) * 1000;
      function paint() {
        var left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        notice.textContent = t(key, { n: left });
        if (seconds && !left) clearInterval(noticeTimer);
      }
      paint();
      notice.hidden = false;
      if (seconds) noticeTimer = setInterval(paint, 1000);
    }
    function hideNotice(key) {
      if (key && key !== noticeKey) return;
      clearInterval(noticeTimer);
      noticeKey = null;
      notice.hidden = true;
      notice.textContent = "";
    }

    // --- ALTCHA v1 proof of work -------------------------------------------------------------

    function hex(buffer) {
      return Array.prototype.map
        .call(new Uint8Array(buffer), function (b) {
          return (b < 16 ? "0" : "") + b.toString(16);
        })
        .join("");
    }
    function solve(challenge) {
      showNotice("challenge");
      var encoder = new TextEncoder();
      var algorithm = challenge.algorithm || "SHA-256";
      var n = 0;
      function batch() {
        var jobs = [];
        for (var k = 0; k < 64 && n + k <= challenge.maxnumber; k++) {
          jobs.push(crypto.subtle.digest(algorithm, encoder.encode(challenge.salt + (n + k))));
        }
        if (!jobs.length) return Promise.reject(new Error("challenge not solved"));
        return Promise.all(jobs).then(function (hashes) {
          for (var j = 0; j < hashes.length; j++) {
            if (hex(hashes[j]) === challenge.challenge) return n + j;
          }
          n += hashes.length;
          return batch();
        });
      }
      return batch().then(
        function (number) {
          hideNotice("challenge");
          return btoa(
            JSON.stringify({
              algorithm: algorithm,
              challenge: challenge.challenge,
              number: number,
              salt: challenge.salt,
              signature: challenge.signature,
            })
          );
        },
        function (err) {
          hideNotice("challenge");
          throw err;
        }
      );
    }

    // --- bootstrap ---------------------------------------------------------------------------

    function bootstrap(solution, attempt) {
      var body = {
        widget_token: core.token,
        session_token: session,
        page_url: location.href.slice(0, 2000),
        referrer: d.referrer ? d.referrer.slice(0, 2000) : null,
        locale: (navigator.language || "").slice(0, 35) || null,
      };
      if (solution) body.challenge_solution = solution;
      attempt = attempt || 0;
      function later() {
        showNotice("retry");
        return wait(Math.min(30000, 1000 * Math.pow(2, attempt))).then(function () {
          return bootstrap(null, attempt + 1);
        });
      }
      return call("POST", "/bootstrap", body).then(function (r) {
        if (r.status === 200) {
          hideNotice();
          return started(r.data);
        }
        if (r.status === 428 && r.data.challenge) {
          return solve(r.data.challenge).then(function (s) {
            return bootstrap(s, attempt);
          }, later);
        }
        if (r.status === 429) {
          showNotice("busy", r.retry);
          return wait(r.retry * 1000).then(function () {
            return bootstrap(null, attempt);
          });
        }
        if (r.status === 403 || r.status === 404) {
          showNotice("unavailable");
          if (window.console) console.warn("ProfiMessenger: " + (r.data.detail || r.status));
          return null;
        }
        return later();
      }, later);
    }

    function rebootstrap() {
      if (!booting) {
        booting = bootstrap().then(function (b) {
          booting = null;
          return b;
        });
      }
      return booting;
    }

    function started(data) {
      var first = !boot;
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
          var g = el("div", "m op gr");
          g.appendChild(el("div", "bb", data.greeting));
          log.insertBefore(g, log.firstChild);
        }
        renderPrivacy();
        renderAttachmentPolicy();
      }
      offlineBanner.textContent = data.offline_message || t("offlineDefault");
      offlineBanner.hidden = data.online;
      offlineForm = !data.online && !data.conversation && !Object.keys(byId).length;
      data.messages.forEach(function (m) {
        add(m, true);
      });
      layout();
      unread();
      connect(data.stream_ticket);
      outbox.forEach(function (it) {
        if (!pending[it.c]) {
          pending[it.c] = it;
          drawPending(it);
        }
      });
      pump();
      markRead();
      return data;
    }

    function renderPrivacy() {
      privacy.textContent = "";
      var p = boot.privacy || {};
      if (p.text) privacy.appendChild(d.createTextNode(p.text + " "));
      if (/^https?:\/\//i.test(p.url || "")) {
        var a = attr(el("a", null, t("privacy")), { href: p.url, target: "_blank", rel: "noopener" });
        privacy.appendChild(a);
      }
    }
    function renderAttachmentPolicy() {
      var policy = boot.attachments;
      attachBtn.hidden = !policy.enabled;
      limits.textContent = policy.enabled ? t("limits", { size: size(policy.max_bytes), types: typesText() }) : "";
      fileInput.accept = policy.content_types.join(",");
    }

    function layout() {
      var open = core.state.open;
      win.hidden = !open;
      core.wrap.classList.toggle("open", open);
      composer.hidden = offlineForm;
      limits.hidden = offlineForm;
      form.hidden = !offlineForm;
    }

    // --- messages ----------------------------------------------------------------------------

    function eventText(m) {
      var name = (m.author && m.author.name) || t("operator");
      if (m.body === "assigned") return t("assigned", { name: name });
      var s = /^status:(resolved|closed|open)$/.exec(m.body || "");
      return s ? t("s_" + s[1]) : "";
    }

    function tick(m) {
      if (m.failed) return ["!", t("failed")];
      if (!m.id) return ["…", m.retrying ? t("retrying") : t("sending")];
      if (m.read_at) return ["✓✓", t("read")];
      if (m.delivered_at) return ["✓✓", t("delivered")];
      return ["✓", t("sent")];
    }

    function draw(m) {
      var mine = m.sender === "visitor";
      if (m.kind === "event") {
        var text = eventText(m);
        return text ? el("div", "m ev", text) : null;
      }
      var row = el("div", "m " + (mine ? "me" : "op"));
      if (!mine) row.appendChild(el("div", "au", (m.author && m.author.name) || t("operator")));
      else row.appendChild(el("span", "sr", t("you") + ":"));
      var bubble = el("div", "bb");
      if (m.body) bubble.appendChild(el("div", "tx", m.body));
      (m.attachments || []).forEach(function (a) {
        var label = "📎 " + a.filename + (a.size ? " (" + size(a.size) + ")" : "");
        var url = String(a.url || "");
        if (/^\/(?!\/)/.test(url)) url = core.base + url;
        if (/^https?:\/\//i.test(url)) {
          bubble.appendChild(attr(el("a", "att", label), { href: url, target: "_blank", rel: "noopener" }));
        } else {
          bubble.appendChild(el("span", "att", label));
        }
      });
      row.appendChild(bubble);
      var meta = el("div", "mt");
      if (m.created_at) meta.appendChild(attr(el("time", null, timeText(m.created_at)), { datetime: m.created_at }));
      if (mine) {
        var tk = tick(m);
        var mark = attr(el("span", "tk" + (m.read_at ? " rd" : ""), tk[0]), { role: "img", "aria-label": tk[1] });
        mark.title = tk[1];
        meta.appendChild(mark);
        if (m.error) meta.appendChild(el("span", null, m.error));
        row.classList.toggle("fl", !!m.failed);
      }
      row.appendChild(meta);
      return row;
    }

    function nearBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    }
    function scrollDown(force) {
      if (force || nearBottom()) log.scrollTop = log.scrollHeight;
    }

    function place(row, id) {
      // Stored messages in id order, before the ones still being sent.
      var rows = log.children;
      for (var k = 0; k < rows.length; k++) {
        var other = rows[k]._id;
        if (other === 0 || (other && other > id)) return log.insertBefore(row, rows[k]);
      }
      log.appendChild(row);
    }

    function add(m, history) {
      if (!m || typeof m.id !== "number") return;
      var known = byId[m.id];
      if (known) {
        // a replay or an echo of what we have: keep the newest receipt times
        known.m.delivered_at = known.m.delivered_at || m.delivered_at;
        known.m.read_at = known.m.read_at || m.read_at;
        redraw(known);
        return;
      }
      if (m.id > lastId) lastId = m.id;
      if (!core.stored().h) core.save({ h: 1 });
      var stick = nearBottom();
      var it = m.client_msg_id && pending[m.client_msg_id];
      if (it) settle(it);
      var entry = { m: m, row: draw(m) };
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
    }

    function redraw(entry) {
      if (!entry.row) return;
      var row = draw(entry.m);
      row._id = entry.row._id;
      log.replaceChild(row, entry.row);
      entry.row = row;
    }

    // --- unread and read -------------------------------------------------------------------

    function isUnread(m) {
      return m.sender !== "visitor" && m.kind !== "event" && !m.read_at && m.id > readUpTo;
    }
    function unread() {
      var n = 0;
      Object.keys(byId).forEach(function (id) {
        if (isUnread(byId[id].m)) n++;
      });
      core.setUnread(n);
    }
    function markRead() {
      if (!boot || !core.state.open || d.visibilityState !== "visible") return;
      var top = 0;
      Object.keys(byId).forEach(function (id) {
        var m = byId[id].m;
        if (isUnread(m) && m.id > top) top = m.id;
      });
      if (!top) return;
      readUpTo = top;
      ownReads[top] = true; // our own read comes back as a receipt: it is not the operator's
      unread();
      call("POST", "/read", { up_to_id: top }).catch(function () {});
    }
    d.addEventListener("visibilitychange", markRead);

    var receiptRead = 0;
    function receipt(r) {
      if (!r || typeof r.up_to_id !== "number" || r.by === "visitor") return; // ticks show the operator's side
      if (!r.by && r.kind === "read" && ownReads[r.up_to_id]) return; // servers without "by"
      if (r.kind === "read") receiptRead = Math.max(receiptRead, r.up_to_id);
      Object.keys(byId).forEach(function (id) {
        var entry = byId[id];
        var m = entry.m;
        if (m.sender !== "visitor" || m.id > r.up_to_id) return;
        var field = r.kind === "read" ? "read_at" : "delivered_at";
        if (!m[field]) {
          m[field] = r.at || "receipt";
          redraw(entry);
        }
      });
    }

    // --- typing ------------------------------------------------------------------------------

    var typingTimer = null;
    function showTyping(on, name) {
      clearTimeout(typingTimer);
      typingRow.textContent = "";
      if (!on) return;
      typingRow.appendChild(d.createTextNode(t("typing", { name: name || t("operator") }) + " "));
      var dots = attr(el("span", "dots"), { "aria-hidden": "true" });
      dots.append(el("i"), el("i"), el("i"));
      typingRow.appendChild(dots);
      typingTimer = setTimeout(showTyping, 8000, false); // a lost "stopped" event must not stick
    }

    var typingSent = 0;
    var typingIdle = null;
    function typing() {
      if (!boot || !input.value || !lastId) return; // nobody to tell before the first message
      var now = Date.now();
      if (now - typingSent > 3000) {
        typingSent = now;
        call("POST", "/typing", { typing: true }).catch(function () {});
      }
      clearTimeout(typingIdle);
      typingIdle = setTimeout(stopTyping, 4000);
    }
    function stopTyping() {
      clearTimeout(typingIdle);
      if (!typingSent) return;
      typingSent = 0;
      call("POST", "/typing", { typing: false }).catch(function () {});
    }

    // --- live events: SSE, reconnect, polling fallback ---------------------------------------

    var source = null;
    var failures = 0;
    var openedAt = 0;
    var reconnectTimer = null;
    var pollTimer = null;
    var polling = false;

    function connect(ticket) {
      if (source) source.close();
      var url = API + "/stream?ticket=" + encodeURIComponent(ticket) + (lastId ? "&last_event_id=" + lastId : "");
      var es = new EventSource(url);
      source = es;
      function json(handler) {
        return function (e) {
          var data;
          try {
            data = JSON.parse(e.data);
          } catch {
            return;
          }
          handler(data);
        };
      }
      es.onopen = function () {
        openedAt = Date.now();
        stopPolling();
      };
      es.addEventListener("message", json(function (m) {
        add(m, false);
      }));
      es.addEventListener("typing", json(function (data) {
        if (data.sender !== "visitor") showTyping(!!data.typing, data.author && data.author.name);
      }));
      es.addEventListener("receipt", json(receipt));
      es.onerror = function () {
        // The ticket is single use: EventSource's own retry would be refused. Close it and
        // come back with a new ticket and the highest id seen, after a growing pause.
        es.close();
        if (source !== es) return;
        source = null;
        failures = openedAt && Date.now() - openedAt > 15000 ? 1 : failures + 1;
        openedAt = 0;
        if (failures >= 3) startPolling();
        clearTimeout(reconnectTimer);
        var delay = Math.min(30000, 1000 * Math.pow(2, failures - 1)) * (0.8 + Math.random() * 0.4);
        reconnectTimer = setTimeout(reconnect, delay);
      };
    }

    function reconnect() {
      call("POST", "/stream/ticket").then(
        function (r) {
          if (r.status >= 200 && r.status < 300 && r.data.ticket) return connect(r.data.ticket);
          if (r.status === 401) {
            return rebootstrap(); // a new session comes with a new ticket
          }
          failures++;
          reconnectTimer = setTimeout(reconnect, r.status === 429 ? r.retry * 1000 : 5000);
        },
        function () {
          failures++;
          if (failures >= 3) startPolling();
          reconnectTimer = setTimeout(reconnect, Math.min(30000, 1000 * Math.pow(2, failures)));
        }
      );
    }

    function startPolling() {
      if (polling) return;
      polling = true;
      poll();
    }
    function stopPolling() {
      polling = false;
      clearTimeout(pollTimer);
    }
    function poll() {
      if (!polling) return;
      // No faster than the server allows; 1.5 s also keeps within the default 40 polls a minute.
      var gap = Math.max(1500, (boot.poll_interval_seconds || 1) * 1000 + 50);
      call("GET", "/messages?after=" + lastId).then(
        function (r) {
          if (r.status === 200) r.data.messages.forEach(function (m) {
            add(m, false);
          });
          if (r.status === 401) rebootstrap();
          pollTimer = setTimeout(poll, r.status === 429 ? r.retry * 1000 : gap);
        },
        function () {
          pollTimer = setTimeout(poll, gap * 2);
        }
      );
    }

    // --- sending -----------------------------------------------------------------------------

    function persist() {
      core.save({
        o: outbox
          .filter(function (it) {
            return !it.file && !it.failed;
          })
          .map(function (it) {
            return { c: it.c, b: it.b, a: it.a };
          }),
      });
    }

    function drawPending(it) {
      if (it.done) return; // already stored (the stream's echo can beat the answer to the send)
      var row = draw({
        sender: "visitor",
        kind: "message",
        body: it.b,
        attachments: it.file ? [{ filename: it.file.name, size: it.file.size }] : it.a,
        failed: it.failed,
        retrying: it.retrying,
        error: it.error,
      });
      row._id = 0;
      if (it.row && it.row.parentNode) log.replaceChild(row, it.row);
      else log.appendChild(row);
      it.row = row;
      scrollDown(true);
    }

    function settle(it) {
      it.done = true;
      delete pending[it.c];
      outbox = outbox.filter(function (x) {
        return x !== it;
      });
      if (it.row && it.row.parentNode) it.row.remove();
      persist();
    }

    function queue(body, file) {
      var it = { c: newId(), b: body, a: [], file: file || null, tries: 0 };
      pending[it.c] = it;
      outbox.push(it);
      persist();
      drawPending(it);
      pump();
    }

    function fail(it, message) {
      it.failed = true;
      it.error = message;
      outbox = outbox.filter(function (x) {
        return x !== it;
      });
      delete pending[it.c];
      persist();
      drawPending(it);
      errorLine.textContent = message;
    }

    var pumping = false;
    function pump() {
      if (pumping || !outbox.length || !boot) return;
      pumping = true;
      var it = outbox[0];
      function next(delay) {
        setTimeout(function () {
          pumping = false;
          pump();
        }, delay || 0);
      }
      function again(r) {
        if (it.done) return next(0);
        it.tries++;
        it.retrying = true;
        drawPending(it);
        next(r && r.status === 429 ? r.retry * 1000 : Math.min(30000, 1000 * Math.pow(2, it.tries)));
      }
      function refused(r) {
        if (r.status === 429) {
          showNotice("throttled", r.retry);
          return again(r);
        }
        if (r.status === 401) {
          rebootstrap().then(function () {
            next(0);
          });
          return;
        }
        if (r.status === 0 || r.status >= 500 || r.status === 408) return again(r);
        var name = it.file ? it.file.name : "";
        var max = size(boot.attachments.max_bytes);
        fail(
          it,
          r.status === 413
            ? t("tooLarge", { name: name, size: max })
            : r.status === 415
              ? t("badType", { name: name, types: typesText() })
              : it.file
                ? t("noUpload", { name: name })
                : t("failed") + (r.data.detail ? ": " + r.data.detail : "")
        );
        next(0);
      }
      if (it.file) {
        var data = new FormData();
        data.append("file", it.file, it.file.name);
        call("POST", "/attachments", data).then(function (r) {
          if (r.status !== 201) return refused(r);
          it.a = [{ id: r.data.id, filename: r.data.filename, size: r.data.size }];
          it.file = null;
          persist();
          next(0);
        }, again);
        return;
      }
      call("POST", "/messages", {
        body: it.b,
        client_msg_id: it.c,
        attachment_ids: it.a.map(function (a) {
          return a.id;
        }),
        page_url: location.href.slice(0, 2000),
      }).then(function (r) {
        if (r.status !== 200 && r.status !== 201) return refused(r);
        hideNotice("throttled");
        hideNotice("retry");
        add(r.data, false);
        settle(it);
        next(0);
      }, again);
    }
    window.addEventListener("online", function () {
      if (!pumping) pump();
    });

    composer.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = input.value.trim();
      if (!body) return;
      input.value = "";
      errorLine.textContent = "";
      stopTyping();
      queue(body);
      input.focus();
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        if (composer.requestSubmit) composer.requestSubmit();
        else sendBtn.click();
      }
    });
    input.addEventListener("input", typing);
    attachBtn.addEventListener("click", function () {
      fileInput.click();
    });
    fileInput.addEventListener("change", function () {
      var files = Array.prototype.slice.call(fileInput.files || []);
      fileInput.value = "";
      errorLine.textContent = "";
      files.forEach(function (file) {
        if (file.size > boot.attachments.max_bytes) {
          errorLine.textContent = t("tooLarge", { name: file.name, size: size(boot.attachments.max_bytes) });
          return;
        }
        queue("", file);
      });
    });

    // --- the offline form ------------------------------------------------------------------

    function buildOfflineForm() {
      var f = attr(el("form", "of"), { novalidate: "" });
      var fields = {};
      [
        ["name", "input", { type: "text", autocomplete: "name", maxlength: "200" }],
        ["email", "input", { type: "email", autocomplete: "email", maxlength: "320" }],
        ["message", "textarea", { rows: "3", maxlength: "10000" }],
      ].forEach(function (spec) {
        var label = el("label");
        var caption = el("span");
        var field = attr(el(spec[1]), spec[2]);
        field.name = spec[0];
        field.required = true;
        label.append(caption, field);
        f.appendChild(label);
        fields[spec[0]] = [caption, field];
      });
      var submit = attr(el("button", "ob-b"), { type: "submit" });
      var err = attr(el("p", "er"), { role: "alert" });
      f.append(submit, err);
      f._paint = function () {
        Object.keys(fields).forEach(function (k) {
          fields[k][0].textContent = t(k);
        });
        submit.textContent = t("send");
      };
      var clientId = newId();
      var busy = false;
      function send(solution) {
        var body = {
          name: fields.name[1].value.trim(),
          email: fields.email[1].value.trim(),
          body: fields.message[1].value.trim(),
          client_msg_id: clientId,
          page_url: location.href.slice(0, 2000),
        };
        if (solution) body.challenge_solution = solution;
        return call("POST", "/offline", body).then(function (r) {
          if (r.status === 200 || r.status === 201) {
            hideNotice();
            offlineForm = false;
            layout();
            add(r.data, false);
            log.appendChild(el("div", "of-info", t("thanks", { email: body.email })));
            scrollDown(true);
            input.focus();
            return;
          }
          if (r.status === 428 && r.data.challenge) return solve(r.data.challenge).then(send);
          if (r.status === 429) {
            showNotice("busy", r.retry);
            return wait(r.retry * 1000).then(function () {
              return send();
            });
          }
          if (r.status === 401) return rebootstrap().then(function () {
            return send();
          });
          err.textContent = r.status === 422 ? t("invalid") : t("failed");
        });
      }
      f.addEventListener("submit", function (e) {
        e.preventDefault();
        err.textContent = "";
        var bad = Object.keys(fields).filter(function (k) {
          return !fields[k][1].checkValidity() || !fields[k][1].value.trim();
        });
        if (bad.length) {
          err.textContent = t("invalid");
          fields[bad[0]][1].focus();
          return;
        }
        if (busy) return;
        busy = true;
        submit.disabled = true;
        send()
          .catch(function () {
            err.textContent = t("retry");
          })
          .then(function () {
            busy = false;
            submit.disabled = false;
          });
      });
      return f;
    }

    // --- keyboard: Esc closes, Tab stays inside the open window ----------------------------

    function focusables() {
      return Array.prototype.filter.call(
        win.querySelectorAll("button,a[href],input,textarea,[tabindex]:not([tabindex='-1'])"),
        function (e) {
          return !e.disabled && e.getClientRects().length && e.tabIndex >= 0;
        }
      );
    }
    core.wrap.addEventListener("keydown", function (e) {
      if (!core.state.open) return;
      if (e.key === "Escape") {
        e.preventDefault();
        core.api.close();
        return;
      }
      if (e.key !== "Tab") return;
      var list = focusables();
      if (!list.length) return;
      var active = core.root.activeElement;
      var first = list[0];
      var last = list[list.length - 1];
      if (list.indexOf(active) < 0) {
        e.preventDefault();
        first.focus();
      } else if (e.shiftKey && active === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && active === last) {
        e.preventDefault();
        first.focus();
      }
    });

    // --- the loader calls this whenever open / closed / launcher changes -------------------

    var wasOpen = false;
    function sync() {
      form._paint();
      layout();
      var open = core.state.open;
      if (open && !wasOpen) {
        scrollDown(true);
        var target = offlineForm ? form.querySelector("input") : input;
        setTimeout(function () {
          if (core.state.open) (target || win).focus();
        });
        markRead();
      }
      wasOpen = open;
    }

    bootstrap().then(function () {
      form._paint();
      layout();
      var active = core.root.activeElement;
      if (core.state.open && (!active || !win.contains(active) || !active.getClientRects().length)) {
        (offlineForm ? form.querySelector("input") : input).focus();
      }
    });
    return { sync: sync };
  }
})();
