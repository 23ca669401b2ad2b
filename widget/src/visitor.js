/**
 * Who the visitor is, without DOM (node --test runs it): the pre-chat form's checks (the
 * same rules as the server: e-mail and phone formats, required fields, consent) and when
 * to ask for a satisfaction rating.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9 ().-]{5,30}$/;

/**
 * The first problem of the pre-chat answers `values` ({name, email, phone, consent}) for the
 * inbox's `fields` ([{name, required}]): [field, "required" | "format"], or null when fine.
 */
export function prechatProblem(fields, values) {
  for (const f of fields) {
    const v = values[f.name];
    if (f.name === "consent") {
      if (f.required && v !== true) return ["consent", "required"];
      continue;
    }
    const text = (v || "").trim();
    if (!text) {
      if (f.required) return [f.name, "required"];
      continue;
    }
    if (f.name === "email" && !EMAIL.test(text)) return ["email", "format"];
    if (f.name === "phone") {
      const digits = text.replace(/\D/g, "").length;
      if (!PHONE.test(text) || digits < 5 || digits > 20) return ["phone", "format"];
    }
  }
  return null;
}

/**
 * The resolution to rate: the id of the latest status event if it says "resolved" and was
 * not rated (`ratedId`), else 0. `messages`: the messages shown, any order.
 */
export function csatDue(messages, ratedId) {
  let last = null;
  messages.forEach((m) => {
    if (m && m.kind === "event" && /^status:/.test(m.body || "") && (!last || m.id > last.id)) last = m;
  });
  return last && last.body === "status:resolved" && last.id !== ratedId ? last.id : 0;
}

/** A signed identity from `ProfiMessenger.identify(...)`, or null when it is not one. */
export function cleanIdentity(o) {
  if (!o || typeof o.identifier !== "string" || typeof o.identity_hash !== "string") return null;
  if (!o.identifier || !o.identity_hash) return null;
  const out = { identifier: o.identifier.slice(0, 200), identity_hash: o.identity_hash.slice(0, 128) };
  ["name", "email", "phone"].forEach((k) => {
    if (typeof o[k] === "string" && o[k]) out[k] = o[k];
  });
  return out;
}
