/**
 * The offline form (name, e-mail, message) shown instead of the composer when nobody is
 * online and there is no conversation yet; it becomes a conversation for the operators.
 * The send keeps one client_msg_id, solves a proof-of-work challenge (428), waits out a 429
 * and starts a new session on a 401.
 */
import { attr, el } from "./dom.js";
import { LIVE } from "./a11y.js";
import { challenged, isThrottled, retrying } from "./transport.js";

const FIELDS = [
  ["name", "input", { type: "text", autocomplete: "name", maxlength: "200" }],
  ["email", "input", { type: "email", autocomplete: "email", maxlength: "320" }],
  ["message", "textarea", { rows: "3", maxlength: "10000" }],
];

/**
 * options: t, call (transport), solve(challenge), rebootstrap(), showNotice(key, seconds),
 * pageUrl(), referrer(), clientId (its client_msg_id), sent(message, email) once stored.
 * Returns {form, paint}: paint() writes the labels in the current language.
 */
export function createOfflineForm({
  t,
  call,
  solve,
  rebootstrap,
  showNotice,
  pageUrl,
  referrer,
  clientId,
  sent,
}) {
  const form = attr(el("form", "of"), { novalidate: "" });
  const fields = {};
  FIELDS.forEach(([name, tag, attributes]) => {
    const label = el("label");
    const caption = el("span");
    const field = attr(el(tag), attributes);
    field.name = name;
    field.required = true;
    label.append(caption, field);
    form.appendChild(label);
    fields[name] = [caption, field];
  });
  const submit = attr(el("button", "ob-b"), { type: "submit" });
  const err = attr(el("p", "er"), LIVE.alert);
  form.append(submit, err);

  function paint() {
    Object.keys(fields).forEach((k) => {
      fields[k][0].textContent = t(k);
    });
    submit.textContent = t("send");
  }

  let body;
  const attempt = challenged((solution) => {
    body = {
      name: fields.name[1].value.trim(),
      email: fields.email[1].value.trim(),
      body: fields.message[1].value.trim(),
      client_msg_id: clientId,
      page_url: pageUrl(),
      referrer: referrer(),
    };
    if (solution) body.challenge_solution = solution;
    return call("POST", "/offline", body);
  }, solve);

  /** Sends the form; rejects when the chat cannot be reached (no retry then: the visitor can). */
  function send() {
    return retrying(() => attempt(), {
      again: isThrottled,
      onWait: (answer) => showNotice("busy", answer.retry),
    }).then((answer) => {
      if (answer.status === 200 || answer.status === 201) return sent(answer.data, body.email);
      if (answer.status === 401) return rebootstrap().then(send);
      err.textContent = answer.status === 422 ? t("invalid") : t("failed");
    });
  }

  let busy = false;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    err.textContent = "";
    const bad = Object.keys(fields).filter((k) => !fields[k][1].checkValidity() || !fields[k][1].value.trim());
    if (bad.length) {
      err.textContent = t("invalid");
      fields[bad[0]][1].focus();
      return;
    }
    if (busy) return;
    busy = true;
    submit.disabled = true;
    send()
      .catch(() => {
        err.textContent = t("retry");
      })
      .then(() => {
        busy = false;
        submit.disabled = false;
      });
  });
  return { form, paint };
}
