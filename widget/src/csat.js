/**
 * The satisfaction rating asked after an operator resolves: a radio group of five stars
 * (native radios: arrow keys move, Space picks) and an optional comment, sent once to
 * POST /api/widget/csat. A 409 (already rated) closes it too.
 */
import { attr, el } from "./dom.js";
import { LIVE } from "./a11y.js";

/** options: t, call, conversationId(), rated(resolutionId). Returns {el, ask(id), hide()}. */
export function createCsat({ t, call, conversationId, rated }) {
  const form = attr(el("form", "cs"), { novalidate: "" });
  form.hidden = true;
  let resolution = 0;

  function ask(id) {
    if (resolution === id && !form.hidden) return;
    resolution = id;
    form.textContent = "";
    const group = attr(el("fieldset", "cs-g"), {});
    group.appendChild(el("legend", null, t("csatAsk")));
    const stars = [];
    for (let n = 1; n <= 5; n++) {
      const label = attr(el("label", "cs-s"), { title: t("csatOf", { n }) });
      const input = attr(el("input", "sr"), { type: "radio", name: "rating", value: String(n) });
      input.setAttribute("aria-label", t("csatOf", { n }));
      const star = attr(el("span", null, "★"), { "aria-hidden": "true" });
      label.append(input, star);
      group.appendChild(label);
      stars.push(label);
      input.addEventListener("change", () => {
        stars.forEach((s, i) => s.classList.toggle("on", i < n));
      });
    }
    const comment = attr(el("textarea"), { rows: "2", maxlength: "2000", placeholder: t("csatComment") });
    comment.setAttribute("aria-label", t("csatComment"));
    const err = attr(el("p", "er"), LIVE.alert);
    form.append(group, comment, attr(el("button", "ob-b", t("csatSend")), { type: "submit" }), err);
    form.onsubmit = (e) => {
      e.preventDefault();
      const chosen = form.querySelector("input:checked");
      if (!chosen) {
        err.textContent = t("csatPick");
        return;
      }
      const body = { conversation_id: conversationId(), rating: Number(chosen.value) };
      if (comment.value.trim()) body.comment = comment.value.trim();
      call("POST", "/csat", body).then(
        (answer) => {
          if (answer.status === 201 || answer.status === 409) {
            rated(resolution);
            form.textContent = "";
            form.appendChild(attr(el("p", "cs-t", t("csatThanks")), LIVE.status));
            return;
          }
          err.textContent = answer.data.detail || t("failed");
        },
        () => {
          err.textContent = t("retry");
        }
      );
    };
    form.hidden = false;
  }

  function hide() {
    form.hidden = true;
    resolution = 0;
  }
  return { el: form, ask, hide };
}
