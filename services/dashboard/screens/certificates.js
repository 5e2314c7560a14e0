// /certificates: the TLS certificates this edge serves, and the root CA to trust.

import * as api from '../api.js';
import { h, add, table, timeEl } from '../dom.js';

const SOURCE = {
  internal: 'ProxyOS internal CA',
  acme: 'ACME (Let’s Encrypt)',
  none: 'none yet',
};

export async function render(root) {
  const status = await api.get('/api/edge/status');
  const certs = status.certificates || [];
  const rows = certs.map((c) => {
    const pendingAcme = c.mode === 'auto' && c.source !== 'acme';
    return [
      h('ul', { class: 'plain' }, c.names.map((n) => h('li', {}, n))),
      c.mode,
      h('span', {}, SOURCE[c.source] || c.source, pendingAcme && c.source === 'internal' ? h('span', { class: 'muted' }, ' (until the ACME certificate arrives)') : null),
      c.issuer || '—',
      timeEl(c.notAfter),
      c.lastError ? h('span', { class: 'error-text' }, h('strong', {}, 'Error: '), c.lastError) : 'None',
      timeEl(c.nextAttemptAt),
    ];
  });
  add(root, 
    h('h1', { tabindex: '-1' }, 'Certificates'),
    h(
      'p',
      { class: 'lead' },
      `As served by edge node ${status.node} (configuration revision ${status.revision}). Routes with TLS mode internal get a certificate from the ProxyOS root CA; auto orders one from Let’s Encrypt.`,
    ),
    h(
      'p',
      {},
      h('a', { href: '/api/edge/ca.pem', download: 'proxyos-root-ca.pem', class: 'button secondary' }, 'Download the root CA (ca.pem)'),
      ' Install it as trusted once per machine so browsers accept internal certificates.',
    ),
    table('Certificates', ['Names', 'Mode', 'Source', 'Issuer', 'Expires', 'Last error', 'Next attempt'], rows, {
      emptyText: 'No route uses TLS yet: set a route’s TLS mode to internal or auto.',
    }),
  );
}
