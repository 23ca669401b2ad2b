/**
 * Accessibility: ARIA live regions, focus kept inside the open dialog, Esc to close, and
 * focus handed back to whoever opened the chat.
 */

/** Attributes of the live regions: notices are a polite status, errors an alert, history a log. */
export const LIVE = {
  status: { role: "status", "aria-live": "polite" },
  alert: { role: "alert" },
  log: { role: "log", "aria-live": "polite", tabindex: "0" },
};

/** The element that had focus before the chat opened, unless it is the page body or the widget. */
export function openerOf(doc, host) {
  const active = doc.activeElement;
  return active && active !== doc.body && active !== host ? active : null;
}

/** Gives focus back on close: to the opener if it is still in the page, else to the launcher. */
export function returnFocus(opener, launcher) {
  const back = opener && opener.isConnected ? opener : launcher;
  if (back) back.focus();
}

/** The elements Tab can reach inside `container`, in order. */
export function focusables(container) {
  return Array.prototype.filter.call(
    container.querySelectorAll("button,a[href],input,textarea,[tabindex]:not([tabindex='-1'])"),
    (node) => !node.disabled && node.getClientRects().length && node.tabIndex >= 0
  );
}

/**
 * While the dialog is open: Esc closes it, Tab and Shift+Tab cycle inside `dialog`.
 * `core` is the loader's internal interface (wrap, root, state, api).
 */
export function trapFocus(core, dialog) {
  core.wrap.addEventListener("keydown", (e) => {
    if (!core.state.open) return;
    if (e.key === "Escape") {
      e.preventDefault();
      core.api.close();
      return;
    }
    if (e.key !== "Tab") return;
    const list = focusables(dialog);
    if (!list.length) return;
    const active = core.root.activeElement;
    const first = list[0];
    const last = list[list.length - 1];
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
}
