// /routes/new and /routes/<id>: create, edit (PUT with If-Match) or, for a
// viewer, read a route.

import * as api from '../api.js';
import { h, add, navLink, splitList, splitLines, confirmDialog } from '../dom.js';
import { Form, busy } from '../forms.js';

const EMPTY = {
  name: '',
  domains: [],
  pathPrefix: '/',
  upstreams: [],
  tlsMode: 'off',
  forceHttps: false,
  ssoEnabled: false,
  ssoProviderId: '',
  accessosGroups: [],
  requestHeaders: { set: {}, remove: [] },
  responseHeaders: { set: {}, remove: [] },
  enabled: true,
};

const headerLines = (set) => Object.entries(set || {}).map(([k, v]) => `${k}: ${v}`).join('\n');

/**
 * "Name: value" lines -> {Name: value}. A line without ':' is reported, and so
 * is a name given twice: the object would silently keep only the last value.
 */
function parseHeaderLines(text, field) {
  const set = {};
  const problems = [];
  const lineOf = new Map(); // lower-case name -> line: header names are case-insensitive
  splitLines(text).forEach((line, i) => {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push({ field, message: `Line ${i + 1} (“${line}”): write it as Name: value.` });
      return;
    }
    const name = line.slice(0, colon).trim();
    const key = name.toLowerCase();
    if (lineOf.has(key)) {
      problems.push({ field, message: `Line ${i + 1}: “${name}” is already set on line ${lineOf.get(key)}; give each header one line.` });
      return;
    }
    lineOf.set(key, i + 1);
    set[name] = line.slice(colon + 1).trim();
  });
  return { set, problems };
}

export async function render(root, ctx) {
  const isNew = !ctx.params.id;
  if (isNew && !ctx.canWrite) {
    add(root, 
      h('h1', { tabindex: '-1' }, 'New route'),
      h('p', { class: 'notice', role: 'status' }, 'You have read-only access (viewer role): you can look at routes but not create them.'),
      h('p', {}, navLink('/routes', 'Back to routes')),
    );
    return;
  }

  const [routeAnswer, providerList] = await Promise.all([
    isNew ? Promise.resolve(null) : api.request('GET', `/api/routes/${api.seg(ctx.params.id)}`).catch((e) => e),
    api.get('/api/sso-providers').catch(() => ({ providers: [] })),
  ]);
  if (routeAnswer instanceof Error) {
    add(root, 
      h('h1', { tabindex: '-1' }, 'Route not found'),
      h('p', { class: 'alert', role: 'alert' }, routeAnswer.message),
      h('p', {}, navLink('/routes', 'Back to routes')),
    );
    return;
  }
  let route = isNew ? structuredClone(EMPTY) : routeAnswer.data;
  let revision = isNew ? null : routeAnswer.etag || route.revision;
  const readOnly = !ctx.canWrite;
  const title = isNew ? 'New route' : readOnly ? `Route ${route.name || route.domains[0]}` : `Edit route ${route.name || route.domains[0]}`;

  const form = new Form({ readOnly, onSubmit: save, label: title });
  const providerOptions = [['', '— choose a provider —'], ...providerList.providers.map((p) => [p.id, `${p.name} (${p.type})`])];
  if (route.ssoProviderId && !providerList.providers.some((p) => p.id === route.ssoProviderId))
    providerOptions.push([route.ssoProviderId, `${route.ssoProviderId} (unknown provider)`]);

  form.add(
    form.text('name', 'Name', { value: route.name, hint: 'For you; optional.' }),
    form.textarea('domains', 'Domains', {
      value: route.domains.join('\n'),
      hint: 'One per line or comma-separated, e.g. app.example.com or *.example.com.',
    }),
    form.text('pathPrefix', 'Path prefix', { value: route.pathPrefix, hint: 'Only requests under this path; / for all.' }),
    form.textarea('upstreams', 'Upstreams', {
      value: route.upstreams.join('\n'),
      hint: 'One per line: http://host:port or https://host:port (several are balanced round robin).',
    }),
    h(
      'fieldset',
      {},
      h('legend', {}, 'TLS'),
      form.select('tlsMode', 'TLS mode', [
        ['off', 'off — plain HTTP only'],
        ['internal', 'internal — certificate from the ProxyOS root CA'],
        ['auto', 'auto — certificate from Let’s Encrypt'],
      ], { value: route.tlsMode }),
      form.checkbox('forceHttps', 'Force HTTPS (redirect plain HTTP)', { checked: route.forceHttps, hint: 'Needs TLS mode internal or auto.' }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Single sign-on'),
      form.checkbox('ssoEnabled', 'Require SSO', { checked: route.ssoEnabled }),
      form.select('ssoProviderId', 'SSO provider', providerOptions, { value: route.ssoProviderId }),
      form.text('accessosGroups', 'Allowed groups', {
        value: route.accessosGroups.join(', '),
        hint: 'Comma-separated; empty lets every signed-in user through.',
      }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Headers'),
      form.textarea('requestHeaders.set', 'Request headers to set', {
        value: headerLines(route.requestHeaders.set),
        hint: 'Sent to the upstream; one per line as Name: value.',
      }),
      form.textarea('requestHeaders.remove', 'Request headers to remove', {
        value: route.requestHeaders.remove.join('\n'),
        hint: 'One name per line.',
        rows: 2,
      }),
      form.textarea('responseHeaders.set', 'Response headers to set', {
        value: headerLines(route.responseHeaders.set),
        hint: 'Sent to the browser; one per line as Name: value.',
      }),
      form.textarea('responseHeaders.remove', 'Response headers to remove', {
        value: route.responseHeaders.remove.join('\n'),
        hint: 'One name per line.',
        rows: 2,
      }),
    ),
    form.checkbox('enabled', 'Enabled', { checked: route.enabled, hint: 'A disabled route is kept but not served.' }),
  );

  const saveButton = h('button', { type: 'submit' }, isNew ? 'Create route' : 'Save route');
  if (!readOnly) {
    const buttons = [saveButton, navLink('/routes', 'Cancel', { class: 'button secondary' })];
    if (!isNew) buttons.push(h('button', { type: 'button', class: 'danger', on: { click: remove } }, 'Delete route'));
    form.actions(...buttons);
  } else {
    form.actions(navLink('/routes', 'Back to routes', { class: 'button secondary' }));
  }

  add(root, 
    h('p', { class: 'breadcrumb' }, navLink('/routes', 'Routes'), ' / ', isNew ? 'New' : route.name || route.domains[0]),
    h('h1', { tabindex: '-1' }, title),
    readOnly ? h('p', { class: 'notice' }, 'Read-only: your role (viewer) can look but not change.') : null,
    !isNew ? h('p', { class: 'meta' }, `Revision ${route.revision} · id ${route.id}`) : null,
    form.el,
  );

  function collect() {
    const reqSet = parseHeaderLines(form.value('requestHeaders.set'), 'requestHeaders.set');
    const respSet = parseHeaderLines(form.value('responseHeaders.set'), 'responseHeaders.set');
    const body = {
      ...(isNew ? {} : { id: route.id }),
      name: form.value('name').trim(),
      domains: splitList(form.value('domains')),
      pathPrefix: form.value('pathPrefix').trim() || '/',
      upstreams: splitList(form.value('upstreams')),
      tlsMode: form.value('tlsMode'),
      forceHttps: form.value('forceHttps'),
      ssoEnabled: form.value('ssoEnabled'),
      ssoProviderId: form.value('ssoProviderId'),
      accessosGroups: splitList(form.value('accessosGroups')),
      requestHeaders: { set: reqSet.set, remove: splitList(form.value('requestHeaders.remove')) },
      responseHeaders: { set: respSet.set, remove: splitList(form.value('responseHeaders.remove')) },
      enabled: form.value('enabled'),
    };
    return { body, problems: [...reqSet.problems, ...respSet.problems] };
  }

  async function save() {
    const { body, problems } = collect();
    if (problems.length) {
      form.showError({ problems: () => problems });
      return;
    }
    await busy(saveButton, async () => {
      try {
        if (isNew) {
          await api.post('/api/routes', body);
          ctx.flash(`Route “${body.name || body.domains[0]}” created.`);
        } else {
          const answer = await api.put(`/api/routes/${api.seg(route.id)}`, body, { ifMatch: revision });
          route = answer.data;
          revision = answer.etag || route.revision;
          ctx.flash(`Route “${body.name || body.domains[0]}” saved.`);
        }
        ctx.navigate('/routes');
      } catch (e) {
        if (e.status === 412) {
          form.showStale('Someone else changed this route since you opened it, so it was not saved (your edit would have overwritten theirs).', () => ctx.navigate(location.pathname, { replace: true }));
          return;
        }
        form.showError(e, body);
      }
    });
  }

  async function remove() {
    const label = route.name || route.domains[0];
    if (!(await confirmDialog(`Delete the route “${label}”? Its domains stop being served at once.`, 'Delete route'))) return;
    try {
      await api.del(`/api/routes/${api.seg(route.id)}`, { ifMatch: revision });
      ctx.flash(`Route “${label}” deleted.`);
      ctx.navigate('/routes');
    } catch (e) {
      form.showError(e);
    }
  }
}
