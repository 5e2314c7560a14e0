// /routes: every route, searchable by name or domain.

import * as api from '../api.js';
import { h, add, replace, navLink, table, yesNo, confirmDialog, uid } from '../dom.js';

export async function render(root, ctx) {
  const [{ routes }, providerList] = await Promise.all([
    api.get('/api/routes'),
    api.get('/api/sso-providers').catch(() => ({ providers: [] })),
  ]);
  const providerNames = new Map(providerList.providers.map((p) => [p.id, p.name]));

  const searchId = uid('route-search');
  const search = h('input', { type: 'search', id: searchId, autocomplete: 'off', placeholder: 'name or domain' });
  const count = h('p', { class: 'count', role: 'status' });
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const list = h('div', {});

  add(root, 
    h(
      'div',
      { class: 'screen-head' },
      h('h1', { tabindex: '-1' }, 'Routes'),
      ctx.canWrite ? navLink('/routes/new', 'New route', { class: 'button' }) : null,
    ),
    h('p', { class: 'lead' }, 'A route sends requests for its domains to its upstreams, optionally behind TLS and SSO.'),
    h('div', { class: 'toolbar' }, h('label', { for: searchId }, 'Search routes'), search),
    alert,
    count,
    list,
  );

  function draw() {
    const q = search.value.trim().toLowerCase();
    const shown = routes.filter(
      (r) => !q || (r.name || '').toLowerCase().includes(q) || r.domains.some((d) => d.includes(q)),
    );
    count.textContent = q ? `${shown.length} of ${routes.length} routes match “${search.value.trim()}”.` : `${routes.length} route${routes.length === 1 ? '' : 's'}.`;
    const columns = ['Name', 'Domains', 'Upstreams', 'TLS', 'SSO', 'Enabled'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = shown.map((r) => {
      const label = r.name || r.domains[0];
      const cells = [
        navLink(`/routes/${api.seg(r.id)}`, label, { 'aria-label': ctx.canWrite ? `Route ${label}` : `View route ${label}` }),
        h('ul', { class: 'plain' }, r.domains.map((d) => h('li', {}, d)), r.pathPrefix && r.pathPrefix !== '/' ? h('li', { class: 'muted' }, `path ${r.pathPrefix}`) : null),
        h('ul', { class: 'plain' }, r.upstreams.map((u) => h('li', {}, u))),
        r.tlsMode === 'off' ? 'off' : `${r.tlsMode}${r.forceHttps ? ', force HTTPS' : ''}`,
        r.ssoEnabled ? h('span', { class: 'badge badge-ok' }, providerNames.get(r.ssoProviderId) || r.ssoProviderId) : h('span', { class: 'badge badge-off' }, 'off'),
        yesNo(r.enabled),
      ];
      if (ctx.canWrite) {
        cells.push(
          h(
            'div',
            { class: 'row-actions' },
            navLink(`/routes/${api.seg(r.id)}`, 'Edit', { class: 'button small secondary', 'aria-label': `Edit ${label}` }),
            h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${label}`, on: { click: () => remove(r, label) } }, 'Delete'),
          ),
        );
      }
      return cells;
    });
    replace(
      list,
      table('Routes', columns, rows, {
        emptyText: routes.length ? 'No route matches the search.' : 'No routes yet.',
      }),
    );
  }

  async function remove(r, label) {
    if (!(await confirmDialog(`Delete the route “${label}” (${r.domains.join(', ')})? Its domains stop being served at once.`, 'Delete route'))) return;
    try {
      await api.del(`/api/routes/${api.seg(r.id)}`, { ifMatch: r.revision });
      routes.splice(routes.indexOf(r), 1);
      alert.hidden = true;
      count.textContent = `Deleted the route “${label}”.`;
      draw();
    } catch (e) {
      alert.textContent = e.status === 412 ? `Someone else changed “${label}” meanwhile; reload the page and try again.` : e.message;
      alert.hidden = false;
    }
  }

  search.addEventListener('input', draw);
  draw();
}
