/* global htmx */
// The unified messenger's small behaviours on top of htmx: no duplicate messages from the
// live stream, the unread count in the tab title, typing notices, composer keys, copy and
// confirm buttons (sound and desktop notifications: notifications.js).
(function () {
  "use strict";

  var baseTitle = document.title.replace(/^\(\d+\)\s*/, "");
  var typingTimer = null;
  var typingSent = 0;

  function setTitle(count) {
    document.title = (count > 0 ? "(" + count + ") " : "") + baseTitle;
  }

  function historyEl() {
    return document.getElementById("history");
  }

  function scrollHistory() {
    var history = historyEl();
    if (history) {
      history.scrollTop = history.scrollHeight;
    }
  }

  function lastMessageId() {
    var items = document.querySelectorAll("#history [data-id]");
    return items.length ? items[items.length - 1].getAttribute("data-id") : null;
  }

  // Live without loss (docs/architecture.md, "Realtime"): every message event of the open
  // conversation carries its message id. The stream's URL always names the newest id this page
  // shows (?last_event_id=), so a new EventSource (htmx's extension opens one after an error,
  // without the Last-Event-ID header the browser's own reconnect sends) replays from there,
  // from the database, whichever process answers. A message the page already shows (our own
  // reply, a replay overlapping the live events) is skipped; one arriving out of order is put
  // in its place by id.
  function messageIdOf(element) {
    var match = /^msg-(\d+)$/.exec((element && element.id) || "");
    return match ? parseInt(match[1], 10) : null;
  }

  function streamElement() {
    return document.querySelector("[sse-connect]");
  }

  function rememberLastId(id) {
    var source = streamElement();
    var url = source && source.getAttribute("sse-connect");
    if (!url || url.indexOf("conversation=") < 0) {
      return;
    }
    var current = /[?&]last_event_id=(\d+)/.exec(url);
    if (current && parseInt(current[1], 10) >= id) {
      return;
    }
    url = current
      ? url.replace(/([?&]last_event_id=)\d+/, "$1" + id)
      : url + (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + id;
    source.setAttribute("sse-connect", url);
  }

  function placeInOrder(element) {
    var id = messageIdOf(element);
    if (id === null) {
      return;
    }
    var before = element.previousElementSibling;
    var target = null;
    while (before) {
      var other = messageIdOf(before);
      if (other !== null && other < id) {
        break;
      }
      if (other !== null) {
        target = before;
      }
      before = before.previousElementSibling;
    }
    if (target) {
      target.parentNode.insertBefore(element, target);
    }
  }

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var detail = event.detail;
    var id = detail && detail.type === "message" && detail.lastEventId;
    if (id && document.getElementById("msg-" + id)) {
      event.preventDefault();
      rememberLastId(parseInt(id, 10));
    }
  });

  document.addEventListener("htmx:sseOpen", function (event) {
    // After a reconnect the list may have moved meanwhile: redraw it once.
    var source = event.target;
    if (source && source.hasAttribute && source.hasAttribute("data-stream-opened")) {
      var list = document.getElementById("conversation-list");
      if (list) {
        htmx.trigger(list, "refresh");
      }
    } else if (source && source.setAttribute) {
      source.setAttribute("data-stream-opened", "");
    }
  });

  var typingClear = null;

  function clearTypingSoon(delay) {
    clearTimeout(typingClear);
    typingClear = setTimeout(function () {
      var indicator = document.getElementById("typing-indicator");
      if (indicator) {
        indicator.textContent = "";
      }
    }, delay);
  }

  // The live list: a list event asks for the rows above the top (and the changed ones), at
  // most one request a second, and the last event of a burst always gets its request —
  // htmx's own throttle drops it, and a change would stay unseen until the next event.
  var LIST_EVERY_MS = 1000;
  var lastListAt = 0;
  var listTimer = null;
  document.addEventListener("htmx:sseMessage", function (event) {
    if (!event.detail || event.detail.type !== "list" || listTimer) {
      return;
    }
    listTimer = setTimeout(function () {
      listTimer = null;
      lastListAt = Date.now();
      var list = document.getElementById("conversation-list");
      if (list) {
        htmx.trigger(list, "refresh");
      }
    }, Math.max(0, lastListAt + LIST_EVERY_MS - Date.now()));
  });

  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.detail && event.detail.type === "typing") {
      clearTypingSoon(8000); // the visitor's typing state expires if no update comes
    }
    if (event.detail && event.detail.type === "message") {
      var id = event.detail.lastEventId;
      var arrived = id && document.getElementById("msg-" + id);
      if (arrived) {
        placeInOrder(arrived);
        // Only ids the stream brought move the replay point: the server's order, not ours.
        rememberLastId(parseInt(id, 10));
      }
      clearTypingSoon(0);
      scrollHistory();
      var conversation = document.querySelector("[data-conversation]");
      var upTo = lastMessageId();
      if (conversation && upTo && !document.hidden) {
        htmx.ajax("POST", "/conversations/" + conversation.getAttribute("data-conversation") + "/read", {
          values: { up_to_id: upTo },
          swap: "none",
        });
      }
    }
  });

  // The live list: the list's own request (a list event) asks only for the rows above the
  // top one (part=top), which come in at the top; an older copy of a row that moved up is
  // removed first. (Not hx-vals on the list: htmx would add them to every link inside.)
  function isList(element) {
    return element && element.id === "conversation-list";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    if (!isList(event.detail.elt)) {
      return;
    }
    event.detail.parameters.part = "top";
    var rows = event.detail.elt.querySelectorAll(":scope > .conversation-item[data-cursor]");
    var meta = document.getElementById("list-meta");
    if (rows.length) {
      event.detail.parameters.after = rows[0].getAttribute("data-cursor");
      event.detail.parameters.bottom = rows[rows.length - 1].getAttribute("data-cursor");
    }
    if (meta && meta.getAttribute("data-since")) {
      event.detail.parameters.since = meta.getAttribute("data-since");
    }
  });

  // ...and the shown rows that changed since the last refresh come in a <template>: redrawn
  // in place, or removed when they left the filters (resolved, assigned to someone else).
  function applyChanges(list) {
    list.querySelectorAll(":scope > template.list-changes").forEach(function (template) {
      (template.getAttribute("data-gone") || "").split(" ").forEach(function (id) {
        var gone = id && document.getElementById("conv-" + id);
        if (gone && gone.parentNode === list) {
          gone.remove();
        }
      });
      Array.prototype.forEach.call(template.content.children, function (row) {
        var old = document.getElementById(row.id);
        if (old && old.parentNode === list) {
          var fresh = row.cloneNode(true);
          fresh.classList.toggle("active", old.classList.contains("active"));
          old.replaceWith(fresh);
          htmx.process(fresh);
        }
      });
      template.remove();
    });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var list = event.detail.target;
    if (!isList(list) || !event.detail.requestConfig || event.detail.requestConfig.elt !== list) {
      return;
    }
    var added = event.detail.serverResponse.split("<template")[0];
    var ids = added.match(/id="conv-[0-9a-f-]+"/g) || [];
    ids.forEach(function (match) {
      var old = document.getElementById(match.slice(4, -1));
      if (old && old.parentNode === list) {
        old.remove();
      }
    });
    var empty = ids.length ? list.querySelector(":scope > .empty") : null;
    if (empty) {
      empty.remove();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var meta = document.getElementById("list-meta");
    var list = document.getElementById("conversation-list");
    if (list) {
      applyChanges(list);
    }
    if (meta) {
      setTitle(parseInt(meta.getAttribute("data-unread-total") || "0", 10));
    } else if (list) {
      setTitle(parseInt(list.getAttribute("data-unread-total") || "0", 10));
    }
    if (event.target && (event.target.id === "history" || event.target.id === "pane")) {
      scrollHistory();
    }
  });

  // The composer: ONE client_msg_id per draft, kept in the form until a send succeeds, so a
  // send retried after a lost answer (the operator clicks again) is stored once: the server
  // answers the retry with the stored message, and a message already shown is not added twice.
  // Ctrl/Cmd+Enter sends, and the visitor sees "typing" while the operator types.
  function newClientMsgId() {
    if (window.crypto && window.crypto.randomUUID) {
      return "op-" + window.crypto.randomUUID();
    }
    return "op-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }

  function draftIdField(form) {
    return form.querySelector("input[name='client_msg_id']");
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var form = event.target;
    if (form && form.id === "composer") {
      var field = draftIdField(form);
      if (field && !field.value) {
        field.value = newClientMsgId();
      }
      event.detail.parameters.client_msg_id = field ? field.value : newClientMsgId();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!form || form.id !== "composer" || !event.detail.shouldSwap) {
      return;
    }
    var match = /id="msg-(\d+)"/.exec(event.detail.serverResponse || "");
    if (match && document.getElementById("msg-" + match[1])) {
      event.detail.shouldSwap = false; // the stream (or an earlier answer) showed it already
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.target;
    if (form && form.id === "composer" && event.detail.successful) {
      form.reset();
      var field = draftIdField(form);
      if (field) {
        field.value = ""; // the next draft gets its own id when it is sent
      }
      scrollHistory();
      sendTyping(form, false);
    }
  });

  function sendTyping(form, typing) {
    var url = form.getAttribute("data-typing-url");
    if (!url) {
      return;
    }
    htmx.ajax("POST", url, { values: { typing: typing ? "true" : "false" }, swap: "none" });
  }

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target && target.name === "body" && target.form && target.form.id === "composer") {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        htmx.trigger(target.form, "submit");
      }
    }
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (!target || target.name !== "body" || !target.form || target.form.id !== "composer") {
      return;
    }
    var now = Date.now();
    if (now - typingSent > 3000) {
      typingSent = now;
      sendTyping(target.form, true);
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () {
      typingSent = 0;
      sendTyping(target.form, false);
    }, 4000);
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-autosubmit")) {
      target.form.submit();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (button) {
      var field = document.querySelector(button.getAttribute("data-copy"));
      if (field && navigator.clipboard) {
        navigator.clipboard.writeText(field.value);
      }
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    scrollHistory();
    var body = document.body;
    setTitle(parseInt(body.getAttribute("data-unread") || "0", 10));
    // Sound and desktop notifications: static/dashboard/notifications.js.
  });
})();
