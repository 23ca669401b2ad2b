/**
 * Label colours: each `.label-chip[data-color]` gets its colour from its data attribute
 * (the staff pages' CSP allows no inline style attributes), on load and after every swap.
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
})();
