/**
 * "E-mail me this conversation" (POST /api/widget/transcript): a small action under the
 * chat, offered when bootstrap says e-mail is set up (`transcript`). It asks for an address
 * only when the server knows none (422 email_required); "sent" is a polite status, errors
 * an alert.
 */
import { attr, el } from "./dom.js";
import { LIVE } from "./a11y.js";

/** What an answer of POST /transcript means: [state, text key]; state: sent, ask, off or error. */
export function outcome(answer) {
  const { status, data } = answer;
  if (status === 202) return ["sent", "trSent"];
  if (status === 422 && data.error === "email_required") return ["ask", "trNeed"];
  if (status === 422) return ["error", "trBad"];
  if (status === 409) return ["off", "trOff"];
  return ["error", status === 429 ? "trLater" : "failed"];
}

/** options: t, call, conversationId(). Returns {el, show(on)}. */
export function createTranscript({ t, call, conversationId }) {
  const box = el("div", "tr");
  const btn = attr(el("button", "tr-b"), { type: "button" });
  const form = attr(el("form", "tr-f"), { novalidate: "" });
  const label = attr(el("label", "sr"), { for: "pm-tr" });
  const email = attr(el("input"), { id: "pm-tr", type: "email", autocomplete: "email", maxlength: "320" });
  const go = attr(el("button", "ob-b"), { type: "submit" });
  const ok = attr(el("p", "tr-o"), LIVE.status);
  const err = attr(el("p", "er"), LIVE.alert);
  form.append(label, email, go);
  box.append(btn, form, ok, err);
  form.hidden = true;
  let off = false;
  let busy = false;

  function send(address) {
    if (busy) return;
    busy = true;
    ok.textContent = err.textContent = "";
    const body = { conversation_id: conversationId() };
    if (address) body.email = address;
    call("POST", "/transcript", body)
      .then(
        (answer) => {
          const [state, key] = outcome(answer);
          (state === "sent" ? ok : err).textContent = t(key);
          off = state === "off";
          form.hidden = !(state === "ask" || (state === "error" && !form.hidden));
          btn.hidden = off || !form.hidden;
          if (state === "ask") email.focus();
          if (state === "sent") btn.focus();
        },
        () => {
          err.textContent = t("retry");
        }
      )
      .then(() => {
        busy = false;
      });
  }
  btn.addEventListener("click", () => send(""));
  form.onsubmit = (e) => {
    e.preventDefault();
    if (email.value.trim()) send(email.value.trim());
    else err.textContent = t("trNeed");
  };

  function show(on) {
    btn.textContent = t("trButton");
    label.textContent = t("trEmail");
    email.placeholder = t("email");
    go.textContent = t("trSend");
    box.hidden = !on || off;
  }
  show(false);
  return { el: box, show };
}
