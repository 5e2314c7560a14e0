// A tiny DOM builder. Data only ever reaches the page as text nodes or
// attribute values, never as markup (no innerHTML anywhere in the dashboard).

/**
 * h('a', {href: '/x', class: 'button'}, 'text', childNode, [more], null)
 * Attributes: `class`, `on: {event: fn}`, `dataset: {...}`, properties
 * `value`/`checked`/`disabled`/`readOnly`/`selected`, booleans (true sets the
 * attribute, false/null/undefined omits it), anything else via setAttribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'readOnly' || key === 'selected') {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Appends children (skipping null/false, flattening arrays); unlike Element.append, null is not "null". */
export function add(el, ...children) {
  append(el, children);
  return el;
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uniqueCounter = 0;
/** An id unique in this page, for label/for and aria-describedby pairs. */
export function uid(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A link the router handles without reloading the page. */
export function navLink(href, text, attrs = {}) {
  return h('a', { ...attrs, href, dataset: { nav: '' } }, text);
}

/** "2026-11-24T05:25:46.489Z" -> local date and time; "" or null -> fallback. */
export function formatTime(iso, fallback = '—') {
  if (!iso) return fallback;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A <time> element showing a local time, with the exact value as its datetime. */
export function timeEl(iso, fallback = '—') {
  if (!iso) return fallback;
  return h('time', { datetime: iso, title: iso }, formatTime(iso, fallback));
}

/** Yes/No in words (never colour alone), with a class for a subtle colour. */
export function yesNo(value, yes = 'Yes', no = 'No') {
  return h('span', { class: value ? 'badge badge-ok' : 'badge badge-off' }, value ? yes : no);
}

/**
 * A responsive table: on a narrow screen each row becomes a card and the
 * cell's data-label names its column (see style.css).
 */
export function table(caption, columns, rows, { emptyText = 'Nothing here yet.' } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, emptyText);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { 'data-label': columns[i] }, cell)))),
      ),
    ),
  );
}

/**
 * A modal confirmation built on <dialog> (focus is trapped and Escape
 * cancels natively). Resolves true when confirmed.
 */
export function confirmDialog(message, confirmLabel = 'Delete') {
  return new Promise((resolve) => {
    const titleId = uid('confirm-title');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const ok = h('button', { type: 'button', class: 'danger' }, confirmLabel);
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, 'Please confirm'),
      h('p', {}, message),
      h('div', { class: 'actions' }, cancel, ok),
    );
    let result = false;
    ok.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Splits "a, b\nc" into ["a","b","c"]. */
export function splitList(text) {
  return String(text || '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Splits lines only (values that may hold commas). */
export function splitLines(text) {
  return String(text || '')
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}
