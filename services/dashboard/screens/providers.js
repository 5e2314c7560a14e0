// /providers: SSO providers, with Test and Delete.

import * as api from '../api.js';
import { h, add, replace, navLink, table, confirmDialog } from '../dom.js';
import { testResult } from './provider_test_result.js';

export async function render(root, ctx) {
  const { providers } = await api.get('/api/sso-providers');
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const status = h('p', { class: 'count', role: 'status' });
  const results = h('div', { 'aria-live': 'polite' });
  const list = h('div', {});

  add(root, 
    h(
      'div',
      { class: 'screen-head' },
      h('h1', { tabindex: '-1' }, 'SSO providers'),
      ctx.canWrite ? navLink('/providers/new', 'New provider', { class: 'button' }) : null,
    ),
    h('p', { class: 'lead' }, 'A route with SSO asks its provider about every request before it reaches the upstream.'),
    alert,
    status,
    list,
    results,
  );

  function draw() {
    const columns = ['Name', 'Type', 'Forward auth URL', 'Login URL'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = providers.map((p) => {
      const cells = [
        navLink(`/providers/${api.seg(p.id)}`, p.name, { 'aria-label': ctx.canWrite ? `Provider ${p.name}` : `View provider ${p.name}` }),
        p.type,
        h('code', { class: 'wrap' }, p.forwardAuthUrl),
        p.loginUrl ? h('code', { class: 'wrap' }, p.loginUrl) : '—',
      ];
      if (ctx.canWrite)
        cells.push(
          h(
            'div',
            { class: 'row-actions' },
            h('button', { type: 'button', class: 'small', 'aria-label': `Test ${p.name}`, on: { click: (e) => test(p, e.currentTarget) } }, 'Test'),
            navLink(`/providers/${api.seg(p.id)}`, 'Edit', { class: 'button small secondary', 'aria-label': `Edit ${p.name}` }),
            h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${p.name}`, on: { click: () => remove(p) } }, 'Delete'),
          ),
        );
      return cells;
    });
    replace(list, table('SSO providers', columns, rows, { emptyText: 'No SSO providers yet.' }));
  }

  async function test(p, button) {
    alert.hidden = true;
    button.disabled = true;
    replace(results, h('p', {}, `Testing ${p.name}…`));
    try {
      const { data } = await api.post(`/api/sso-providers/${api.seg(p.id)}/test`, {});
      replace(results, testResult(data, p.name));
    } catch (e) {
      replace(results);
      alert.textContent = `Test of ${p.name} failed: ${e.message}`;
      alert.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async function remove(p) {
    if (!(await confirmDialog(`Delete the SSO provider “${p.name}”?`, 'Delete provider'))) return;
    try {
      await api.del(`/api/sso-providers/${api.seg(p.id)}`, { ifMatch: p.revision });
      providers.splice(providers.indexOf(p), 1);
      alert.hidden = true;
      status.textContent = `Deleted the SSO provider “${p.name}”.`;
      draw();
    } catch (e) {
      replace(alert, ...(await inUseMessage(e, p)));
      alert.hidden = false;
    }
  }

  draw();
}

/** 409 provider_in_use: name the routes (links) that still use it. */
export async function inUseMessage(e, p) {
  if (e.code !== 'provider_in_use') return [e.message];
  let routes = [];
  try {
    routes = (await api.get(`/api/routes?ssoProviderId=${encodeURIComponent(p.id)}`)).routes;
  } catch {
    return [e.message];
  }
  return [
    h('p', {}, `“${p.name}” cannot be deleted: these routes still use it. Turn SSO off on them or pick another provider first.`),
    h('ul', {}, routes.map((r) => h('li', {}, navLink(`/routes/${api.seg(r.id)}`, r.name || r.domains[0]), ` (${r.domains.join(', ')})`))),
  ];
}
