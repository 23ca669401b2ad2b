// The phone layout of the unified messenger (below 700 px, dashboard.css): one column, the
// list or the open conversation, and the visitor panel behind a button ("Visitor details")
// that shows it in place of the thread and back. The back link to the list is a plain
// boosted link. Above 700 px the button is hidden and the panel always shown.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-panel-toggle]") : null;
    if (!button) {
      return;
    }
    var conversation = button.closest(".conversation");
    if (!conversation) {
      return;
    }
    var open = !conversation.classList.contains("panel-open");
    conversation.classList.toggle("panel-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
})();
