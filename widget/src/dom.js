/** Small DOM helpers shared by the loader and the chat. Text always goes in as textContent. */

/** A new element with an optional class and text (never HTML). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** Sets each attribute of `values` on `node`; returns the node. */
export function attr(node, values) {
  Object.keys(values).forEach((name) => node.setAttribute(name, values[name]));
  return node;
}

/**
 * Adds `css` to a shadow root: a constructable stylesheet where the browser has them (no
 * 'unsafe-inline' needed under a CSP), else a <style> element.
 */
export function addCss(root, css) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = root.adoptedStyleSheets.concat(sheet);
  } catch {
    const style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }
}
