// Labelled form controls and the mapping of API errors onto them: an error's
// `field` (a JSON path such as "domains[1]", "requestHeaders.set.X-Foo" or
// "provider.forwardAuthUrl") is shown under the control for that field, with
// aria-invalid and aria-describedby; errors that name no control go to the
// form's alert.

import { h, uid, replace } from './dom.js';

export class Form {
  /**
   * @param {object} o
   * @param {boolean} o.readOnly  render values only: no editing, no submit
   * @param {string} o.fieldPrefix  stripped from error paths ("provider.")
   * @param {(form: Form) => void} o.onSubmit
   * @param {object} o.aliases  API field -> control name, for a control that
   *   shows a field the other way round (an "Enabled" box for `disabled`)
   */
  constructor({ readOnly = false, fieldPrefix = '', onSubmit = null, label = '', aliases = {} } = {}) {
    this.readOnly = readOnly;
    this.fieldPrefix = fieldPrefix;
    this.aliases = aliases;
    this.fields = new Map();
    this.alert = h('div', { class: 'alert', role: 'alert', hidden: true });
    this.body = h('div', { class: 'form-fields' });
    this.el = h('form', { novalidate: true, 'aria-label': label || undefined }, this.alert, this.body);
    if (onSubmit) {
      this.el.addEventListener('submit', (event) => {
        event.preventDefault();
        if (!this.readOnly) onSubmit(this);
      });
    }
  }

  add(...nodes) {
    for (const n of nodes) if (n) this.body.appendChild(n);
    return this;
  }

  register(name, control, wrapper, hintId) {
    const errorId = `${control.id}-error`;
    const errorEl = h('div', { class: 'field-error', id: errorId, hidden: true });
    wrapper.appendChild(errorEl);
    this.fields.set(name, { control, errorEl, hintId });
    return wrapper;
  }

  field(name, labelText, control, hint) {
    const hintId = hint ? `${control.id}-hint` : null;
    if (hintId) control.setAttribute('aria-describedby', hintId);
    const wrapper = h(
      'div',
      { class: 'field' },
      h('label', { for: control.id }, labelText),
      hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
      control,
    );
    return this.register(name, control, wrapper, hintId);
  }

  text(name, labelText, { value = '', type = 'text', hint = '', autocomplete = 'off', required = false, ...rest } = {}) {
    const control = h('input', {
      id: uid(`f-${name}`),
      name,
      type,
      value: value ?? '',
      autocomplete,
      required,
      readOnly: this.readOnly,
      ...rest,
    });
    return this.field(name, labelText, control, hint);
  }

  textarea(name, labelText, { value = '', hint = '', rows = 3 } = {}) {
    const control = h('textarea', { id: uid(`f-${name}`), name, rows, readOnly: this.readOnly, spellcheck: 'false' });
    control.value = value ?? '';
    return this.field(name, labelText, control, hint);
  }

  select(name, labelText, options, { value = '', hint = '' } = {}) {
    const control = h(
      'select',
      { id: uid(`f-${name}`), name, disabled: this.readOnly },
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
    );
    control.value = value;
    return this.field(name, labelText, control, hint);
  }

  checkbox(name, labelText, { checked = false, hint = '' } = {}) {
    const control = h('input', { id: uid(`f-${name}`), name, type: 'checkbox', checked, disabled: this.readOnly });
    const hintId = hint ? `${control.id}-hint` : null;
    if (hintId) control.setAttribute('aria-describedby', hintId);
    const wrapper = h(
      'div',
      { class: 'field field-check' },
      control,
      h('label', { for: control.id }, labelText),
      hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    );
    return this.register(name, control, wrapper, hintId);
  }

  control(name) {
    return this.fields.get(name).control;
  }

  value(name) {
    const c = this.control(name);
    return c.type === 'checkbox' ? c.checked : c.value;
  }

  actions(...buttons) {
    this.body.appendChild(h('div', { class: 'actions' }, buttons));
  }

  clearErrors() {
    this.alert.hidden = true;
    replace(this.alert);
    for (const { control, errorEl, hintId } of this.fields.values()) {
      control.removeAttribute('aria-invalid');
      if (hintId) control.setAttribute('aria-describedby', hintId);
      else control.removeAttribute('aria-describedby');
      errorEl.hidden = true;
      replace(errorEl);
    }
  }

  /** Shows an alert without a field (a sentence, or nodes). */
  showAlert(...content) {
    replace(this.alert, ...content);
    this.alert.hidden = false;
  }

  /**
   * A save refused with 412 (someone else changed the object since it was
   * opened): says so, with `message`, and offers `reload()`, which discards
   * the edit. Focus goes to that button.
   */
  showStale(message, reload) {
    this.clearErrors();
    this.showAlert(
      h('p', {}, message),
      h('p', {}, h('button', { type: 'button', class: 'secondary', on: { click: reload } }, 'Reload the current version'), ' (your changes here are discarded).'),
    );
    this.alert.querySelector('button').focus();
  }

  /** The registered field an error path belongs to, or null. */
  resolve(path) {
    let p = String(path || '');
    if (this.fieldPrefix && p.startsWith(this.fieldPrefix)) p = p.slice(this.fieldPrefix.length);
    // Longest registered prefix ending at a '.' or '[' boundary.
    for (let end = p.length; end > 0; end -= 1) {
      if (end === p.length || p[end] === '.' || p[end] === '[') {
        const field = p.slice(0, end);
        const name = Object.hasOwn(this.aliases, field) ? this.aliases[field] : field;
        if (this.fields.has(name)) return { name, rest: p.slice(end), path: p };
      }
    }
    return null;
  }

  /**
   * Shows an ApiError: each problem under its control, the rest in the alert.
   * `sent` is the body that was submitted (to quote the offending item).
   * Moves focus to the first invalid control (or the alert).
   */
  showError(error, sent = {}) {
    this.clearErrors();
    const loose = [];
    const perField = new Map();
    for (const problem of error.problems ? error.problems() : [error]) {
      const target = problem.field ? this.resolve(problem.field) : null;
      if (!target) {
        loose.push(problem.field ? `${problem.field}: ${stripPath(problem.message, problem.field)}` : problem.message);
        continue;
      }
      const text = describe(target, problem, sent);
      if (!perField.has(target.name)) perField.set(target.name, []);
      perField.get(target.name).push(text);
    }
    let first = null;
    // In form order, so focus goes to the topmost invalid control.
    for (const [name, entry] of this.fields) {
      const messages = perField.get(name);
      if (!messages) continue;
      replace(entry.errorEl, ...messages.map((m) => h('p', {}, m)));
      entry.errorEl.hidden = false;
      entry.control.setAttribute('aria-invalid', 'true');
      entry.control.setAttribute('aria-describedby', [entry.hintId, entry.errorEl.id].filter(Boolean).join(' '));
      if (!first) first = entry.control;
    }
    if (loose.length) {
      replace(this.alert, ...loose.map((m) => h('p', {}, m)));
      this.alert.hidden = false;
    } else if (first) {
      replace(this.alert, h('p', {}, 'Please correct the highlighted fields.'));
      this.alert.hidden = false;
    }
    if (first) first.focus();
    else if (loose.length) focusAlert(this.alert);
  }
}

function focusAlert(alert) {
  alert.setAttribute('tabindex', '-1');
  alert.focus();
}

function stripPath(message, path) {
  const m = String(message || '');
  return m.startsWith(`${path}: `) ? m.slice(path.length + 2) : m;
}

/** "domains[1]" with sent.domains[1] = "a.*.x" -> '"a.*.x": wildcard …'. */
function describe(target, problem, sent) {
  const message = stripPath(problem.message, problem.field);
  const rest = target.rest;
  const index = /^\[(\d+)\]/.exec(rest);
  if (index) {
    const list = sent ? valueAt(sent, target.name) : undefined;
    const item = Array.isArray(list) ? list[Number(index[1])] : undefined;
    return typeof item === 'string' ? `“${item}”: ${message}` : `Entry ${Number(index[1]) + 1}: ${message}`;
  }
  const key = /^\.(.+)$/.exec(rest);
  if (key) return `${key[1]}: ${message}`;
  return message;
}

function valueAt(obj, dottedPath) {
  return dottedPath.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);
}

/** A submit button that is disabled while `work` runs. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
