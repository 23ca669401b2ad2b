// Saved replies in the composer: "/" at the start of the reply followed by letters lists the
// saved replies whose shortcut starts with them (the server filters by scope and fills
// {visitor_name} and {operator_name}). Arrows move, Enter inserts, Esc closes; a click inserts.
(function () {
  "use strict";

  var TRIGGER = /^\/([\w-]{0,40})$/u;
  var popup = null;
  var field = null;
  var items = [];
  var active = -1;
  var asked = 0;

  function composerField(target) {
    return target && target.name === "body" && target.form && target.form.id === "composer" ? target : null;
  }

  function ensurePopup(textarea) {
    if (popup && popup.isConnected) {
      return popup;
    }
    popup = document.createElement("ul");
    popup.id = "saved-replies-popup";
    popup.className = "saved-replies-popup";
    popup.setAttribute("role", "listbox");
    popup.setAttribute("aria-label", textarea.form.getAttribute("data-saved-replies-label") || "");
    popup.hidden = true;
    popup.addEventListener("mousedown", function (event) {
      event.preventDefault(); // keep the focus in the textarea
    });
    popup.addEventListener("click", function (event) {
      var option = event.target.closest ? event.target.closest("[data-index]") : null;
      if (option) {
        insert(parseInt(option.getAttribute("data-index"), 10));
      }
    });
    textarea.parentNode.insertBefore(popup, textarea);
    textarea.setAttribute("aria-controls", popup.id);
    textarea.setAttribute("aria-autocomplete", "list");
    return popup;
  }

  function close() {
    items = [];
    active = -1;
    asked += 1; // an answer still on its way is ignored
    if (popup) {
      popup.hidden = true;
      popup.textContent = "";
    }
    if (field) {
      field.setAttribute("aria-expanded", "false");
      field.removeAttribute("aria-activedescendant");
    }
  }

  function isOpen() {
    return popup !== null && !popup.hidden;
  }

  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(popup.children, function (option, i) {
      var chosen = i === index;
      option.classList.toggle("active", chosen);
      option.setAttribute("aria-selected", chosen ? "true" : "false");
      if (chosen) {
        field.setAttribute("aria-activedescendant", option.id);
        if (option.scrollIntoView) {
          option.scrollIntoView({ block: "nearest" });
        }
      }
    });
  }

  function render(textarea, found) {
    var list = ensurePopup(textarea);
    list.textContent = "";
    items = found;
    if (!found.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = textarea.form.getAttribute("data-saved-replies-empty") || "";
      list.appendChild(none);
      active = -1;
    }
    found.forEach(function (reply, index) {
      var option = document.createElement("li");
      option.id = "saved-reply-option-" + reply.id;
      option.setAttribute("role", "option");
      option.setAttribute("data-index", String(index));
      var name = document.createElement("strong");
      name.textContent = "/" + reply.shortcut;
      var text = document.createElement("span");
      text.textContent = reply.text;
      option.appendChild(name);
      option.appendChild(text);
      list.appendChild(option);
    });
    list.hidden = false;
    textarea.setAttribute("aria-expanded", "true");
    if (found.length) {
      highlight(0);
    }
  }

  function lookUp(textarea, typed) {
    var url = textarea.form.getAttribute("data-saved-replies-url");
    if (!url) {
      return;
    }
    asked += 1;
    var mine = asked;
    fetch(url + "?q=" + encodeURIComponent(typed), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (answer) {
        return answer.ok ? answer.json() : [];
      })
      .then(function (found) {
        if (mine === asked && field === textarea && TRIGGER.test(textarea.value)) {
          render(textarea, found);
        }
      })
      .catch(close);
  }

  function insert(index) {
    var reply = items[index];
    if (!reply || !field) {
      return;
    }
    var textarea = field;
    close();
    textarea.value = reply.text;
    textarea.focus();
    textarea.setSelectionRange(reply.text.length, reply.text.length);
  }

  document.addEventListener("input", function (event) {
    var textarea = composerField(event.target);
    if (!textarea) {
      return;
    }
    var match = TRIGGER.exec(textarea.value);
    field = textarea;
    if (match) {
      lookUp(textarea, match[1]);
    } else if (isOpen()) {
      close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!isOpen() || !composerField(event.target)) {
      return;
    }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (items.length) {
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + items.length) % items.length);
      }
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      if (active >= 0) {
        event.preventDefault();
        insert(active);
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  document.addEventListener("focusout", function (event) {
    if (composerField(event.target) && isOpen()) {
      close();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail && event.detail.target && event.detail.target.id === "pane") {
      close(); // another conversation: another visitor's name
      popup = null;
    }
  });
})();
