// /providers/new (from a preset) and /providers/<id>: edit, test, delete.

import * as api from '../api.js';
import { h, add, replace, navLink, splitList, confirmDialog } from '../dom.js';
import { Form, busy } from '../forms.js';
import { testResult } from './provider_test_result.js';
import { inUseMessage } from './providers.js';

const TYPES = [
  ['authelia', 'Authelia'],
  ['authentik', 'Authentik'],
  ['keycloak', 'Keycloak (via oauth2-proxy)'],
  ['generic', 'Generic forward auth'],
  ['builtin', 'ProxyOS built-in'],
];

export async function render(root, ctx) {
  const isNew = !ctx.params.id;
  if (isNew && !ctx.canWrite) {
    add(root, 
      h('h1', { tabindex: '-1' }, 'New SSO provider'),
      h('p', { class: 'notice', role: 'status' }, 'You have read-only access (viewer role): you can look at SSO providers but not create them.'),
      h('p', {}, navLink('/providers', 'Back to SSO providers')),
    );
    return;
  }

  let provider;
  let revision = null;
  let presets = [];
  if (isNew) {
    presets = (await api.get('/api/sso-providers/presets')).presets;
    provider = structuredClone(presets[0].provider);
  } else {
    try {
      const answer = await api.request('GET', `/api/sso-providers/${api.seg(ctx.params.id)}`);
      provider = answer.data;
      revision = answer.etag || provider.revision;
    } catch (e) {
      add(root, h('h1', { tabindex: '-1' }, 'SSO provider not found'), h('p', { class: 'alert', role: 'alert' }, e.message), h('p', {}, navLink('/providers', 'Back to SSO providers')));
      return;
    }
  }
  const readOnly = !ctx.canWrite;
  const title = isNew ? 'New SSO provider' : readOnly ? `SSO provider ${provider.name}` : `Edit SSO provider ${provider.name}`;
  const results = h('div', { 'aria-live': 'polite' });
  const form = new Form({ readOnly, onSubmit: save, label: title });

  form.add(
    form.text('name', 'Name', { value: provider.name }),
    form.select('type', 'Type', TYPES, { value: provider.type }),
    form.text('forwardAuthUrl', 'Forward auth URL', {
      value: provider.forwardAuthUrl,
      type: 'url',
      hint: 'The edge sends a GET here for every request; 2xx lets it through.',
    }),
    form.text('loginUrl', 'Login URL', {
      value: provider.loginUrl,
      type: 'url',
      hint: 'Where browsers go on a 401/403 without a redirect (not needed for the built-in provider).',
    }),
    form.textarea('authResponseHeaders', 'Auth response headers', {
      value: (provider.authResponseHeaders || []).join('\n'),
      hint: 'Copied from the provider’s answer to the upstream; one per line.',
    }),
    form.textarea('authRequestHeaders', 'Auth request headers', {
      value: (provider.authRequestHeaders || []).join('\n'),
      hint: 'Sent to the provider; empty sends all of the client’s headers.',
      rows: 2,
    }),
    form.text('groupsHeader', 'Groups header', { value: provider.groupsHeader, hint: 'One of the auth response headers, or empty.' }),
    form.text('groupsSeparator', 'Groups separator', { value: provider.groupsSeparator, maxlength: 4 }),
    form.text('timeoutMs', 'Timeout (ms)', { value: String(provider.timeoutMs ?? 2000), type: 'number', min: 100, max: 60000, inputmode: 'numeric' }),
    form.text('cacheTtlSeconds', 'Cache allowed answers (seconds)', {
      value: String(provider.cacheTtlSeconds ?? 0),
      type: 'number',
      min: 0,
      max: 3600,
      inputmode: 'numeric',
      hint: '0 asks the provider every time.',
    }),
  );

  const saveButton = h('button', { type: 'submit' }, isNew ? 'Create provider' : 'Save provider');
  const testButton = h('button', { type: 'button', class: 'secondary', on: { click: test } }, 'Test settings');
  if (!readOnly) {
    const buttons = [saveButton, testButton, navLink('/providers', 'Cancel', { class: 'button secondary' })];
    if (!isNew) buttons.push(h('button', { type: 'button', class: 'danger', on: { click: remove } }, 'Delete provider'));
    form.actions(...buttons);
  } else {
    form.actions(navLink('/providers', 'Back to SSO providers', { class: 'button secondary' }));
  }

  let presetPicker = null;
  if (isNew) {
    const presetForm = new Form({ label: 'Preset' });
    presetForm.add(
      presetForm.select('preset', 'Start from preset', presets.map((p) => [p.type, p.name]), {
        value: presets[0].type,
        hint: 'Fills in the usual settings for that kind of provider; edit the example hosts.',
      }),
    );
    const select = presetForm.control('preset');
    select.addEventListener('change', () => {
      const preset = presets.find((p) => p.type === select.value);
      if (preset) fill(preset.provider);
    });
    presetPicker = presetForm.el;
  }

  add(root, 
    h('p', { class: 'breadcrumb' }, navLink('/providers', 'SSO providers'), ' / ', isNew ? 'New' : provider.name),
    h('h1', { tabindex: '-1' }, title),
    readOnly ? h('p', { class: 'notice' }, 'Read-only: your role (viewer) can look but not change.') : null,
    presetPicker,
    form.el,
    results,
  );

  function fill(p) {
    form.clearErrors();
    form.control('name').value = p.name || '';
    form.control('type').value = p.type;
    form.control('forwardAuthUrl').value = p.forwardAuthUrl || '';
    form.control('loginUrl').value = p.loginUrl || '';
    form.control('authResponseHeaders').value = (p.authResponseHeaders || []).join('\n');
    form.control('authRequestHeaders').value = (p.authRequestHeaders || []).join('\n');
    form.control('groupsHeader').value = p.groupsHeader || '';
    form.control('groupsSeparator').value = p.groupsSeparator || ',';
    form.control('timeoutMs').value = String(p.timeoutMs ?? 2000);
    form.control('cacheTtlSeconds').value = String(p.cacheTtlSeconds ?? 0);
  }

  function number(name) {
    const raw = form.value(name).trim();
    if (raw === '') return undefined;
    return /^-?\d+$/.test(raw) ? Number(raw) : raw; // a non-integer goes as is: the server names it
  }

  function collect() {
    return {
      ...(isNew ? {} : { id: provider.id }),
      name: form.value('name').trim(),
      type: form.value('type'),
      forwardAuthUrl: form.value('forwardAuthUrl').trim(),
      loginUrl: form.value('loginUrl').trim(),
      authResponseHeaders: splitList(form.value('authResponseHeaders')),
      authRequestHeaders: splitList(form.value('authRequestHeaders')),
      groupsHeader: form.value('groupsHeader').trim(),
      groupsSeparator: form.value('groupsSeparator'),
      timeoutMs: number('timeoutMs'),
      cacheTtlSeconds: number('cacheTtlSeconds'),
    };
  }

  async function save() {
    const body = collect();
    await busy(saveButton, async () => {
      try {
        if (isNew) {
          await api.post('/api/sso-providers', body);
          ctx.flash(`SSO provider “${body.name}” created.`);
        } else {
          await api.put(`/api/sso-providers/${api.seg(provider.id)}`, body, { ifMatch: revision });
          ctx.flash(`SSO provider “${body.name}” saved.`);
        }
        ctx.navigate('/providers');
      } catch (e) {
        if (e.status === 412) {
          form.showStale('Someone else changed this provider since you opened it, so it was not saved.', () => ctx.navigate(location.pathname, { replace: true }));
          return;
        }
        form.showError(e, body);
      }
    });
  }

  async function test() {
    const body = collect();
    form.clearErrors();
    replace(results, h('p', {}, `Testing ${body.name || 'the provider'}…`));
    await busy(testButton, async () => {
      try {
        const { data } = await api.post('/api/sso-providers/test', { provider: body });
        replace(results, testResult(data, body.name || 'these settings'));
      } catch (e) {
        replace(results);
        // The test endpoint names fields under "provider." (its body wraps them).
        form.fieldPrefix = 'provider.';
        form.showError(e, body);
        form.fieldPrefix = '';
      }
    });
  }

  async function remove() {
    if (!(await confirmDialog(`Delete the SSO provider “${provider.name}”?`, 'Delete provider'))) return;
    try {
      await api.del(`/api/sso-providers/${api.seg(provider.id)}`, { ifMatch: revision });
      ctx.flash(`SSO provider “${provider.name}” deleted.`);
      ctx.navigate('/providers');
    } catch (e) {
      form.clearErrors();
      form.showAlert(...(await inUseMessage(e, provider)));
    }
  }
}
