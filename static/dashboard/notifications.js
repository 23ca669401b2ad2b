// Notifications for the operator (issue 14): the staff stream's "notify" events (a visitor
// wrote in a conversation that is the operator's or nobody's: messenger/dashboard/notices.py)
// raise a desktop notification while the tab is hidden — the visitor's name and the first line
// of the message; a click focuses the tab and opens the conversation — and play a short sound
// when the operator has it on (saved on their account). Permission is asked from a button,
// never on load. The favicon shows the unread count that dashboard.js puts in the tab title.
(function () {
  "use strict";

  var audio = null;

  function controls() {
    return document.getElementById("notify-controls");
  }

  function label(name, fallback) {
    var element = controls();
    return (element && element.getAttribute(name)) || fallback;
  }

  function supported() {
    return "Notification" in window;
  }

  // --- permission ------------------------------------------------------------------------

  function showPermission() {
    var button = document.getElementById("notify-permission");
    var state = document.getElementById("notify-state");
    if (!button || !state) {
      return;
    }
    var permission = supported() ? Notification.permission : "unsupported";
    button.hidden = permission !== "default";
    if (permission === "granted") {
      state.textContent = label("data-on-label", "");
    } else if (permission === "denied" || permission === "unsupported") {
      state.textContent = label("data-denied-label", "");
    } else {
      state.textContent = "";
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#notify-permission") : null;
    if (!button || !supported()) {
      return;
    }
    var asked = Notification.requestPermission(showPermission);
    if (asked && asked.then) {
      asked.then(showPermission);
    }
  });

  // --- sound -----------------------------------------------------------------------------

  function soundOn() {
    var box = document.getElementById("notify-sound");
    return Boolean(box && box.checked);
  }

  function playSound() {
    var source = label("data-sound-src", "");
    if (!soundOn() || !source) {
      return;
    }
    if (!audio) {
      audio = new Audio(source);
      audio.preload = "auto";
    }
    audio.currentTime = 0;
    var playing = audio.play();
    if (playing && playing.catch) {
      playing.catch(function () {
        // The browser refused to play before any interaction with the page: nothing to do.
      });
    }
  }

  // --- the notification --------------------------------------------------------------------

  function openConversation(url) {
    window.focus();
    if (window.location.pathname !== url) {
      window.location.assign(url);
    }
  }

  function showNotification(notice) {
    if (!supported() || Notification.permission !== "granted") {
      return;
    }
    var shown = new Notification(notice.name || label("data-visitor-label", "Messenger"), {
      body: notice.text || label("data-file-label", ""),
      tag: "conversation-" + notice.conversation_id,
    });
    shown.onclick = function () {
      shown.close();
      openConversation(notice.url);
    };
  }

  function openHere(notice) {
    var open = document.querySelector("[data-conversation]");
    return Boolean(open && open.getAttribute("data-conversation") === notice.conversation_id);
  }

  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (!event.detail || event.detail.type !== "notify") {
      return;
    }
    event.preventDefault(); // data, not HTML to swap
    var notice;
    try {
      notice = JSON.parse(event.detail.data);
    } catch {
      return; // not JSON: nothing to show
    }
    if (!notice || typeof notice.url !== "string" || notice.url.indexOf("/conversations/") !== 0) {
      return;
    }
    if (document.hidden) {
      showNotification(notice);
      playSound();
    } else if (!openHere(notice)) {
      playSound(); // looking at the page, but not at this conversation
    }
  });

  // --- the unread count on the favicon ------------------------------------------------------

  var drawn = null;

  function drawFavicon() {
    var match = /^\((\d+)\)/.exec(document.title);
    var count = match ? parseInt(match[1], 10) : 0;
    if (count === drawn) {
      return;
    }
    drawn = count;
    var canvas = document.createElement("canvas");
    canvas.width = 32;
    canvas.height = 32;
    var context = canvas.getContext && canvas.getContext("2d");
    if (!context) {
      return;
    }
    context.fillStyle = "#4f46e5";
    context.beginPath();
    context.arc(16, 16, 14, 0, 2 * Math.PI);
    context.fill();
    if (count > 0) {
      context.fillStyle = "#dc2626";
      context.beginPath();
      context.arc(21, 11, 11, 0, 2 * Math.PI);
      context.fill();
      context.fillStyle = "#fff";
      context.font = "bold 15px sans-serif";
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillText(count > 99 ? "99" : String(count), 21, 12);
    }
    var link = document.querySelector("link[rel='icon']");
    if (!link) {
      link = document.createElement("link");
      link.rel = "icon";
      document.head.appendChild(link);
    }
    link.href = canvas.toDataURL("image/png");
    link.setAttribute("data-unread", String(count));
  }

  document.addEventListener("DOMContentLoaded", function () {
    showPermission();
    if (!controls()) {
      return; // not the unified messenger
    }
    drawFavicon();
    var title = document.querySelector("title");
    if (title && window.MutationObserver) {
      new MutationObserver(drawFavicon).observe(title, { childList: true, characterData: true, subtree: true });
    }
  });
})();
