// /tokens: API tokens for scripts; the secret is shown once, right after creation.

import * as api from '../api.js';
import { h, add, replace, table, timeEl, confirmDialog, uid } from '../dom.js';
import { Form, busy } from '../forms.js';

export async function render(root, ctx) {
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const status = h('p', { class: 'count', role: 'status' });
  const secretBox = h('div', {});
  const list = h('div', {});
  add(root, 
    h('h1', { tabindex: '-1' }, 'API tokens'),
    h('p', { class: 'lead' }, 'Scripts send a token as Authorization: Bearer pxat_…; it acts with the role it was given until it expires or is deleted.'),
    secretBox,
    alert,
    status,
    list,
  );

  if (ctx.canWrite) {
    const form = new Form({ onSubmit: create, label: 'New API token' });
    form.add(
      form.text('name', 'Token name', { hint: 'What uses it, e.g. “backup script”.' }),
      form.select('role', 'Token role', [
        ['viewer', 'viewer — read only'],
        ['admin', 'admin — read and write'],
      ], { value: 'viewer' }),
      form.text('expiresInDays', 'Expires after (days)', { type: 'number', min: 1, max: 3650, inputmode: 'numeric', hint: 'Empty: never expires.' }),
    );
    const createButton = h('button', { type: 'submit' }, 'Create token');
    form.actions(createButton);
    add(root, h('section', { class: 'panel', 'aria-label': 'New API token' }, h('h2', {}, 'New API token'), form.el));

    async function create() {
      const days = form.value('expiresInDays').trim();
      const body = { name: form.value('name').trim(), role: form.value('role') };
      if (days) body.expiresInDays = /^\d+$/.test(days) ? Number(days) : days;
      await busy(createButton, async () => {
        try {
          const { data } = await api.post('/api/auth/tokens', body);
          form.clearErrors();
          form.control('name').value = '';
          form.control('expiresInDays').value = '';
          showSecret(data);
          await load();
        } catch (e) {
          form.showError(e, body);
        }
      });
    }
  }

  function showSecret(token) {
    const inputId = uid('token-secret');
    const input = h('input', { id: inputId, type: 'text', readOnly: true, value: token.secret, class: 'secret', spellcheck: 'false' });
    const copied = h('span', { role: 'status', class: 'copied' });
    const copy = h(
      'button',
      {
        type: 'button',
        on: {
          click: async () => {
            try {
              await navigator.clipboard.writeText(token.secret);
            } catch {
              // Not a secure context (plain HTTP on another host): fall back.
              input.select();
              document.execCommand('copy');
            }
            copied.textContent = 'Copied.';
          },
        },
      },
      'Copy secret',
    );
    const headingId = uid('secret-heading');
    const heading = h('h2', { tabindex: '-1', id: headingId }, `Secret of the new token “${token.name}”`);
    replace(
      secretBox,
      h(
        'section',
        { class: 'secret-box', 'aria-labelledby': headingId },
        heading,
        h('p', {}, h('strong', {}, 'Copy it now: you will not see it again. '), 'ProxyOS keeps only a hash of it.'),
        h('label', { for: inputId }, 'Token secret'),
        h('div', { class: 'secret-row' }, input, copy),
        copied,
        h('button', { type: 'button', class: 'secondary small', on: { click: () => replace(secretBox) } }, 'I have copied it'),
      ),
    );
    heading.focus();
  }

  async function load() {
    const { tokens } = await api.get('/api/auth/tokens');
    const columns = ['Name', 'Role', 'Created', 'Expires', 'Last used'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = tokens.map((t) => {
      const cells = [t.name, t.role, timeEl(t.createdAt), timeEl(t.expiresAt, 'never'), timeEl(t.lastUsedAt, 'never')];
      if (ctx.canWrite)
        cells.push(h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete token ${t.name}`, on: { click: () => remove(t) } }, 'Delete'));
      return cells;
    });
    replace(list, h('h2', {}, 'Tokens'), table('API tokens', columns, rows, { emptyText: 'No API tokens yet.' }));
  }

  async function remove(t) {
    if (!(await confirmDialog(`Delete the token “${t.name}”? Scripts using it stop working at once.`, 'Delete token'))) return;
    try {
      await api.del(`/api/auth/tokens/${api.seg(t.id)}`);
      alert.hidden = true;
      await load();
      status.textContent = `Token “${t.name}” deleted.`;
    } catch (e) {
      alert.textContent = e.message;
      alert.hidden = false;
    }
  }

  await load();
}
