/**
 * The chat window's DOM inside the loader's shadow root: its styles, the window's parts, and
 * one message row. Everything a person wrote goes in with textContent, never as HTML; the
 * only innerHTML is the constant icons.
 */
import { attr, el } from "./dom.js";
import { LIVE } from "./a11y.js";
import { textsOf } from "./strings.js";

const SVG = '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">';
const ICON_CLOSE =
  SVG +
  '<path fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';
const ICON_SEND = SVG + '<path fill="currentColor" d="M3 20.5 21 12 3 3.5 3 10l12 2-12 2z"/></svg>';
const ICON_CLIP =
  SVG +
  '<path fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 ' +
  '3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7.5"/></svg>';

// Short class names keep the bundle small: .w window, .h header (.ht .tt title, .st status),
// .ib icon button (.x close, .at attach, .sd send), .nt notice, .ob offline banner, .lg log,
// .m message (.me mine, .op operator's, .ev event, .gr greeting, .fl failed), .au author,
// .bb bubble, .tx text, .att attachment, .mt meta (.tk ticks, .rd read), .ty typing,
// .cp composer, .lim limits, .er error, .pv privacy, .of offline form (.ob-b its button),
// .sr screen-reader only.
export const CSS =
  ".w{position:fixed;right:20px;bottom:88px;width:370px;max-width:calc(100vw - 24px);height:580px;" +
  "max-height:calc(100vh - 108px);display:flex;flex-direction:column;background:#fff;color:#111827;" +
  "border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.25);overflow:hidden;z-index:2;text-align:left}" +
  ".left .w{right:auto;left:20px}" +
  "@media (max-width:480px){.w,.left .w{inset:0;width:auto;max-width:none;height:auto;max-height:none;border-radius:0}" +
  ".open .l{display:none}}" +
  ".h{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--pm-c);color:#fff}" +
  ".ht{flex:1;min-width:0}.tt{margin:0;font-size:16px;font-weight:600;line-height:1.3}" +
  ".st{margin:0;font-size:12px;opacity:.92}" +
  ".st::before{content:'';display:inline-block;width:8px;height:8px;border-radius:50%;background:#4ade80;margin-right:6px}" +
  ".off .st::before{background:#d1d5db}" +
  ".ib{all:unset;box-sizing:border-box;cursor:pointer;width:36px;height:36px;flex:none;display:flex;" +
  "align-items:center;justify-content:center;border-radius:10px;color:#4b5563}" +
  ".h .ib{color:#fff}.sd{background:var(--pm-c);color:#fff}" +
  ".ib:focus-visible,.w textarea:focus-visible,.w input:focus-visible,.lg:focus-visible,.w a:focus-visible," +
  ".ob:focus-visible{outline:2px solid var(--pm-c);outline-offset:1px}.h .ib:focus-visible{outline-color:#fff}" +
  ".nt{padding:8px 14px;background:#fef3c7;color:#78350f;font-size:13px}" +
  ".lg{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f9fafb}" +
  ".m{max-width:84%;display:flex;flex-direction:column;align-items:flex-start}" +
  ".me{align-self:flex-end;align-items:flex-end}" +
  ".ev,.of-info{align-self:center;font-size:12px;color:#6b7280;text-align:center;max-width:100%}" +
  ".au{font-size:12px;color:#6b7280;margin:0 4px 2px}" +
  ".bb{padding:8px 12px;border-radius:14px;background:#fff;border:1px solid #e5e7eb;white-space:pre-wrap;" +
  "overflow-wrap:anywhere;max-width:100%}" +
  ".me .bb{background:var(--pm-c);color:#fff;border-color:transparent}" +
  ".att{display:block;color:inherit;text-decoration:underline}" +
  ".mt{font-size:11px;color:#6b7280;margin:2px 4px 0;display:flex;gap:6px;align-items:center}" +
  ".tk{letter-spacing:-2px}.tk.rd{color:var(--pm-c);font-weight:700}.fl .mt{color:#b91c1c}" +
  ".ty{min-height:20px;padding:2px 14px;font-size:12px;color:#6b7280;background:#f9fafb}" +
  ".cp{display:flex;align-items:flex-end;gap:6px;padding:8px 10px;border-top:1px solid #e5e7eb}" +
  ".w textarea,.w input{font:inherit;color:inherit;background:#fff;border:1px solid #d1d5db;border-radius:10px;" +
  "padding:8px 10px;margin:0;width:100%}" +
  ".cp textarea{flex:1;resize:none;min-height:38px;max-height:120px}" +
  ".lim,.pv,.er{margin:0;padding:0 12px 6px;font-size:11px;color:#6b7280}.er{color:#b91c1c}" +
  ".er:empty,.lim:empty,.pv:empty{display:none}[hidden]{display:none!important}.pv a{color:var(--pm-c)}" +
  ".ob{margin:0;padding:8px 14px;background:#f3f4f6;color:#374151;font-size:13px}" +
  ".of{display:flex;flex-direction:column;gap:8px;padding:10px 14px;border-top:1px solid #e5e7eb}" +
  ".of label{display:flex;flex-direction:column;gap:2px;font-size:12px;color:#374151}" +
  ".of textarea{resize:vertical;min-height:60px}" +
  ".ob-b{all:unset;box-sizing:border-box;cursor:pointer;align-self:flex-end;padding:8px 16px;border-radius:10px;" +
  "background:var(--pm-c);color:#fff;font-weight:600}.ob-b:focus-visible{outline:2px solid #111827;outline-offset:2px}" +
  ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
  ".dots i{display:inline-block;width:4px;height:4px;margin:0 1px;border-radius:50%;background:currentColor}" +
  "@media (prefers-reduced-motion:no-preference){.w{animation:pm-in .18s ease-out}" +
  ".dots i{animation:pm-b 1s infinite}.dots i:nth-child(2){animation-delay:.15s}.dots i:nth-child(3){animation-delay:.3s}}" +
  "@keyframes pm-in{from{opacity:0;transform:translateY(12px)}}@keyframes pm-b{50%{opacity:.2}}" +
  // pre-chat form (.pc, .cb its consent line) and the rating (.cs, .cs-s a star, .on chosen)
  ".pc-i{margin:0;font-size:13px;color:#374151}.of .cb{flex-direction:row;align-items:flex-start;gap:6px}" +
  ".cb input{width:auto;margin-top:2px}.of a{color:var(--pm-c)}" +
  ".cs{display:flex;flex-direction:column;gap:6px;padding:10px 14px;border-top:1px solid #e5e7eb}" +
  ".cs-g{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:2px}.cs-g legend{font-size:13px;margin-bottom:4px}" +
  ".cs-s{cursor:pointer;font-size:26px;line-height:1;color:#d1d5db}.cs-s.on{color:#f59e0b}" +
  ".cs-s:focus-within{outline:2px solid var(--pm-c);border-radius:4px}.cs-t{margin:0;font-size:13px}" +
  // the transcript by e-mail (.tr, .tr-b its button, .tr-f the address form, .tr-o "sent")
  ".tr{padding:0 12px 6px;font-size:12px}.tr .er{padding:2px 0 0}.tr-b{all:unset;cursor:pointer;" +
  "color:var(--pm-c);text-decoration:underline}.tr-b:focus-visible{outline:2px solid var(--pm-c)}" +
  ".tr-f{display:flex;gap:6px;margin-top:4px}.tr-f .ob-b{padding:6px 12px}.tr-o{margin:2px 0 0;color:#374151}" +
  ".tr-o:empty{display:none}";

/** A button showing a constant icon, labelled for assistive technology. */
function iconButton(className, icon, label) {
  const button = attr(el("button", "ib " + className), { type: "button", "aria-label": label, title: label });
  button.innerHTML = icon; // constant markup
  return button;
}

/** "1.5 MB" in `lang`. */
export function formatSize(bytes, lang) {
  const units = textsOf(lang).units;
  const i = bytes >= 1048576 ? 2 : bytes >= 1024 ? 1 : 0;
  const value = bytes / Math.pow(1024, i);
  return (i ? Math.round(value * 10) / 10 : value).toLocaleString(lang) + " " + units[i];
}

/** "PNG, JPEG, PDF" for a list of content types ("image/*" stays as it is). */
export function formatTypes(contentTypes) {
  return contentTypes
    .map((ct) => {
      const sub = ct.split("/")[1] || ct;
      return sub === "*" ? ct : sub.replace(/^(x-|vnd\.)/, "").replace("plain", "txt").toUpperCase();
    })
    .join(", ");
}

/** The time of a message; with the date when it is not today. */
function formatTime(iso, lang) {
  const date = new Date(iso);
  if (isNaN(date)) return "";
  const opts = { hour: "2-digit", minute: "2-digit" };
  if (date.toDateString() !== new Date().toDateString()) {
    opts.day = "numeric";
    opts.month = "short";
  }
  return date.toLocaleString(lang, opts);
}

/**
 * The chat window: a dialog labelled by its title, holding the header, the notice line, the
 * offline banner, the message log, the typing line, the composer, `offlineForm`, the
 * attachment limits, the error line and the privacy line. Returns the parts by name.
 */
export function buildWindow(offlineForm) {
  const win = attr(el("div", "w"), {
    id: "pm-window",
    role: "dialog",
    "aria-modal": "true",
    "aria-labelledby": "pm-title",
  });
  win.hidden = true;
  const head = el("div", "h");
  const heading = el("div", "ht");
  const title = attr(el("h2", "tt"), { id: "pm-title" });
  const status = el("p", "st");
  heading.append(title, status);
  const closeBtn = iconButton("x", ICON_CLOSE, "");
  head.append(heading, closeBtn);
  const notice = attr(el("div", "nt"), LIVE.status);
  notice.hidden = true;
  const offlineBanner = el("p", "ob");
  offlineBanner.hidden = true;
  const log = attr(el("div", "lg"), LIVE.log);
  const typingRow = el("div", "ty");
  const composer = el("form", "cp");
  const inputLabel = attr(el("label", "sr"), { for: "pm-input" });
  const input = attr(el("textarea"), { id: "pm-input", rows: "1", maxlength: "10000" });
  const attachBtn = iconButton("at", ICON_CLIP, "");
  attachBtn.hidden = true;
  const fileInput = attr(el("input"), { type: "file", tabindex: "-1", "aria-hidden": "true" });
  fileInput.hidden = true;
  const sendBtn = iconButton("sd", ICON_SEND, "");
  sendBtn.type = "submit";
  composer.append(inputLabel, input, attachBtn, fileInput, sendBtn);
  const limits = el("p", "lim");
  const errorLine = attr(el("p", "er"), LIVE.alert);
  const privacy = el("p", "pv");
  offlineForm.hidden = true;
  win.append(head, notice, offlineBanner, log, typingRow, composer, offlineForm, limits, errorLine, privacy);
  return {
    win,
    title,
    status,
    closeBtn,
    notice,
    offlineBanner,
    log,
    typingRow,
    composer,
    inputLabel,
    input,
    attachBtn,
    fileInput,
    sendBtn,
    limits,
    errorLine,
    privacy,
  };
}

/** The text of an event row ("… joined the conversation", status changes); "" hides it. */
function eventText(m, t) {
  const name = (m.author && m.author.name) || t("operator");
  if (m.body === "assigned") return t("assigned", { name });
  if (m.body === "transferred") return t("transferred");
  const s = /^status:(resolved|closed|open)$/.exec(m.body || "");
  return s ? t("s_" + s[1]) : "";
}

/** The tick of the visitor's message and its label: failed, sending, read, delivered, stored. */
function tick(m, t) {
  if (m.failed) return ["!", t("failed")];
  if (!m.id) return ["…", m.retrying ? t("retrying") : t("sending")];
  if (m.read_at) return ["✓✓", t("read")];
  if (m.delivered_at) return ["✓✓", t("delivered")];
  return ["✓", t("sent")];
}

/**
 * One row of the log for message `m` (an event row, or null for an event not shown).
 * `ctx`: t, lang, base (the API origin, for attachment links).
 */
export function drawMessage(m, { t, lang, base }) {
  const mine = m.sender === "visitor";
  if (m.kind === "event") {
    const text = eventText(m, t);
    return text ? el("div", "m ev", text) : null;
  }
  const row = el("div", "m " + (mine ? "me" : "op"));
  if (!mine) row.appendChild(el("div", "au", (m.author && m.author.name) || t("operator")));
  else row.appendChild(el("span", "sr", t("you") + ":"));
  const bubble = el("div", "bb");
  if (m.body) bubble.appendChild(el("div", "tx", m.body));
  (m.attachments || []).forEach((a) => {
    const label = "📎 " + a.filename + (a.size ? " (" + formatSize(a.size, lang) + ")" : "");
    let url = String(a.url || "");
    if (/^\/(?!\/)/.test(url)) url = base + url;
    if (/^https?:\/\//i.test(url)) {
      bubble.appendChild(attr(el("a", "att", label), { href: url, target: "_blank", rel: "noopener" }));
    } else {
      bubble.appendChild(el("span", "att", label));
    }
  });
  row.appendChild(bubble);
  const meta = el("div", "mt");
  if (m.created_at) {
    meta.appendChild(attr(el("time", null, formatTime(m.created_at, lang)), { datetime: m.created_at }));
  }
  if (mine) {
    const [symbol, label] = tick(m, t);
    const mark = attr(el("span", "tk" + (m.read_at ? " rd" : ""), symbol), { role: "img", "aria-label": label });
    mark.title = label;
    meta.appendChild(mark);
    if (m.error) meta.appendChild(el("span", null, m.error));
    row.classList.toggle("fl", !!m.failed);
  }
  row.appendChild(meta);
  return row;
}

/** The operator-is-typing line: text and three animated dots (hidden from screen readers). */
export function drawTyping(row, text) {
  row.textContent = "";
  if (!text) return;
  row.appendChild(document.createTextNode(text + " "));
  const dots = attr(el("span", "dots"), { "aria-hidden": "true" });
  dots.append(el("i"), el("i"), el("i"));
  row.appendChild(dots);
}
