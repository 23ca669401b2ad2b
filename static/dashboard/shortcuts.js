// Keyboard shortcuts of the unified messenger, listed in the `?` dialog
// (templates/dashboard/partials/shortcuts.html; the keys there and here must agree):
//   j / k  next / previous conversation in the list
//   a      assign me            r  focus the reply
//   n      message <-> note     e  resolve the conversation
//   ?      this list            Esc  close the list, or leave the field being typed in
// Inactive while typing in a field (input, textarea, select, editable text), except Esc;
// keys with Ctrl, Alt or Meta are left to the browser.
(function () {
  "use strict";

  function typingIn(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function dialog() {
    return document.getElementById("shortcuts");
  }

  function openDialog() {
    var element = dialog();
    if (element && !element.open && element.showModal) {
      element.showModal();
    }
  }

  function rows() {
    return Array.prototype.slice.call(
      document.querySelectorAll("#conversation-list > .conversation-item > a")
    );
  }

  function go(step) {
    var links = rows();
    if (!links.length) {
      return;
    }
    var current = -1;
    links.forEach(function (link, index) {
      if (link.parentNode.classList.contains("active")) {
        current = index;
      }
    });
    var next = current < 0 ? 0 : Math.min(Math.max(current + step, 0), links.length - 1);
    if (next !== current) {
      links[next].click(); // a boosted link: htmx loads the conversation
    }
  }

  function composer() {
    return document.querySelector("#composer textarea[name=body]");
  }

  function assignMe() {
    var button = document.querySelector("#controls button[hx-post$='/assign-me']");
    if (button) {
      button.click();
    }
  }

  function focusReply() {
    var field = composer();
    if (field) {
      field.focus();
    }
  }

  function toggleNote() {
    var note = document.querySelector("#composer input[name=kind][value=note]");
    var message = document.querySelector("#composer input[name=kind][value=message]");
    if (note && message) {
      (note.checked ? message : note).checked = true;
      focusReply();
    }
  }

  function resolve() {
    var select = document.querySelector("#controls select[name=status]");
    if (select && select.value !== "resolved" && select.querySelector("option[value=resolved]")) {
      select.value = "resolved";
      select.dispatchEvent(new Event("change", { bubbles: true })); // htmx posts the status
    }
  }

  var ACTIONS = {
    j: function () {
      go(1);
    },
    k: function () {
      go(-1);
    },
    a: assignMe,
    r: focusReply,
    n: toggleNote,
    e: resolve,
    "?": openDialog,
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) {
      return;
    }
    if (!document.querySelector("main.unified")) {
      return;
    }
    var shown = dialog();
    if (event.key === "Escape") {
      if (typingIn(event.target) && !(shown && shown.open)) {
        event.target.blur(); // leave the field: the shortcuts work again
      }
      return; // an open dialog closes itself on Esc
    }
    if (typingIn(event.target) || (shown && shown.open)) {
      return;
    }
    var action = Object.prototype.hasOwnProperty.call(ACTIONS, event.key) ? ACTIONS[event.key] : null;
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) {
      openDialog();
    }
  });
})();
