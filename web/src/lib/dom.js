// Small DOM helpers: no framework.

/** The element with id `id`; throws if the page lacks it (a markup bug). */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

/**
 * Creates an element: `h('a', {href: '/x', class: 'link'}, 'text', child)`. Attributes starting
 * with `on` are listeners; `dataset` is an object; `null`/`false` attributes are skipped.
 * Children are nodes or strings (inserted as text, never as HTML).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Sets the text of a status element and its `data-state` (`info`, `busy`, `ok`, `error`). */
export function setStatus(el, text, state = 'info') {
  el.textContent = text;
  el.dataset.state = state;
}

/** Runs `fn` with `button` disabled (and marked busy) until it settles. */
export async function withBusy(button, fn) {
  const buttons = Array.isArray(button) ? button : [button];
  for (const b of buttons) {
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
  }
  try {
    return await fn();
  } finally {
    for (const b of buttons) {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    }
  }
}

/** A message suitable for a person from any thrown value. */
export function errorText(e) {
  if (!e) return 'unknown error';
  if (typeof e === 'string') return e;
  return e.message || String(e);
}

/** Copies `text` to the clipboard, falling back to selecting it in `input`. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (input) {
      input.focus();
      input.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}
