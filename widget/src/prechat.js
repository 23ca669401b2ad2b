/**
 * The pre-chat form (the inbox's `prechat` fields: name, e-mail, phone, consent) shown in
 * place of the composer before the first message. Checked here (visitor.js) and by the
 * server (POST /api/widget/contact): a 422's detail is shown as it comes.
 */
import { attr, el } from "./dom.js";
import { LIVE } from "./a11y.js";
import { prechatProblem } from "./visitor.js";

const INPUTS = {
  name: { type: "text", autocomplete: "name", maxlength: "200" },
  email: { type: "email", autocomplete: "email", maxlength: "320" },
  phone: { type: "tel", autocomplete: "tel", maxlength: "64" },
};

/**
 * options: t, call (transport), privacy() → {url}, done() once the server stored it.
 * Returns {form, show(fields)}: show() builds the fields of the inbox's settings.
 */
export function createPrechat({ t, call, privacy, done }) {
  const form = attr(el("form", "of pc"), { novalidate: "" });
  let fields = [];
  const inputs = {};

  function show(list) {
    fields = list;
    form.textContent = "";
    form.appendChild(el("p", "pc-i", t("pcIntro")));
    list.forEach((f) => {
      const label = el("label");
      let input;
      if (f.name === "consent") {
        label.className = "cb";
        input = attr(el("input"), { type: "checkbox" });
        const text = el("span", null, t("pcConsent") + " ");
        const url = (privacy() || {}).url;
        if (/^https?:\/\//i.test(url || "")) {
          text.appendChild(attr(el("a", null, t("privacy")), { href: url, target: "_blank", rel: "noopener" }));
        }
        label.append(input, text);
      } else {
        input = attr(el("input"), INPUTS[f.name]);
        label.append(el("span", null, t(f.name === "name" ? "name" : f.name === "email" ? "email" : "phone")), input);
      }
      input.name = f.name;
      input.required = !!f.required;
      inputs[f.name] = input;
      form.appendChild(label);
    });
    form.append(attr(el("button", "ob-b", t("pcStart")), { type: "submit" }), err);
  }

  const err = attr(el("p", "er"), LIVE.alert);
  let busy = false;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const values = {};
    fields.forEach((f) => {
      const input = inputs[f.name];
      values[f.name] = f.name === "consent" ? input.checked : input.value.trim();
    });
    const problem = prechatProblem(fields, values);
    err.textContent = problem ? t(problem[0] === "consent" ? "pcNeedConsent" : "invalid") : "";
    if (problem) {
      inputs[problem[0]].focus();
      return;
    }
    if (busy) return;
    busy = true;
    const contact = {};
    Object.keys(values).forEach((k) => {
      if (values[k] !== "") contact[k] = values[k];
    });
    call("POST", "/contact", { contact })
      .then((answer) => {
        if (answer.status === 200) return done(contact);
        err.textContent = answer.status === 422 && answer.data.detail ? answer.data.detail : t("failed");
      })
      .catch(() => {
        err.textContent = t("retry");
      })
      .then(() => {
        busy = false;
      });
  });
  return { form, show };
}
