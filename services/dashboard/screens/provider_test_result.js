// The answer of POST /api/sso-providers/{id}/test or /test, in words.
// Missing headers are flagged in text ("missing") as well as by colour.

import { h } from '../dom.js';

const VERDICT = { ok: 'OK', warning: 'Warning', error: 'Error' };

export function testResult(result, providerName) {
  const missing = result.missingHeaders || [];
  const returned = result.headersReturned || [];
  const hints = result.caseHints || [];
  const verdict = result.verdict || (result.reachable ? 'ok' : 'error');
  const rows = [
    ['Reachable', result.reachable ? 'Yes' : 'No'],
    ['Status', result.status ? String(result.status) : '— (no answer)'],
    ['Latency', `${result.latencyMs ?? '?'} ms`],
    [
      'Missing headers',
      missing.length
        ? h('ul', { class: 'plain' }, missing.map((name) => h('li', { class: 'missing' }, h('strong', {}, 'Missing: '), name)))
        : 'None',
    ],
    [
      'Headers returned',
      returned.length
        ? h('ul', { class: 'plain chips' }, returned.map((name) => h('li', {}, name)))
        : 'None',
    ],
  ];
  if (hints.length)
    rows.push([
      'Spelled differently',
      h('ul', { class: 'plain' }, hints.map((c) => h('li', {}, `${c.configured} came back as ${c.returned} (works: names are case-insensitive)`))),
    ]);
  if (result.redirectLocation) rows.push(['Redirects to', result.redirectLocation]);
  if (result.error) rows.push(['Error', result.error]);

  return h(
    'section',
    { class: `test-result verdict-${verdict}`, 'aria-label': `Test result for ${providerName}` },
    h('h3', {}, `Test result for ${providerName}: `, h('span', { class: `badge verdict verdict-${verdict}` }, VERDICT[verdict] || verdict)),
    result.message ? h('p', { class: 'verdict-message' }, result.message) : null,
    h('dl', { class: 'facts' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  );
}
