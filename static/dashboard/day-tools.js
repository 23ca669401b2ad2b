/**
 * The conversation header's day tools (labels, snooze, transfer).
 *
 * - Label colours: each `.label-chip[data-color]` gets its colour from its data attribute
 *   (the staff pages' CSP allows no inline style attributes), on load and after every swap.
 * - While the operator has the snooze or transfer form open, the header's live refresh
 *   (a GET of #controls on a status event) waits: it would close the form under their hands.
 *   Their own action redraws the header anyway.
 */
(function () {
  "use strict";
  var COLOR = /^#[0-9a-fA-F]{6}$/;

  function paint(root) {
    var chips = (root || document).querySelectorAll(".label-chip[data-color]");
    chips.forEach(function (chip) {
      var color = chip.getAttribute("data-color");
      if (COLOR.test(color)) {
        chip.style.setProperty("--label-color", color);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    paint(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    paint(event.target);
  });
  document.addEventListener("htmx:load", function (event) {
    paint(event.detail && event.detail.elt ? event.detail.elt.parentNode || event.detail.elt : document);
  });

  // A refresh asked for just before the operator opened a form answers just after: it is
  // not swapped in either (the form stays open; their own action redraws the header).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail && event.detail.elt;
    var verb = event.detail && event.detail.requestConfig && event.detail.requestConfig.verb;
    if (elt && elt.id === "controls" && verb === "get" && elt.querySelector("details.tool[open]")) {
      event.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    var verb = event.detail && event.detail.requestConfig && event.detail.requestConfig.verb;
    if (elt && elt.id === "controls" && verb === "get" && elt.querySelector("details.tool[open]")) {
      event.preventDefault();
    }
  });
})();
