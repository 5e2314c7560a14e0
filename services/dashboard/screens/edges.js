// /edges: every live edge node and whether it serves the latest configuration.

import * as api from '../api.js';
import { h, add, replace, table, timeEl, yesNo } from '../dom.js';

export async function render(root) {
  const summary = h('p', { class: 'lead', role: 'status' });
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const list = h('div', {});
  const refresh = h('button', { type: 'button', class: 'secondary small', on: { click: () => load() } }, 'Refresh');
  add(root, 
    h('div', { class: 'screen-head' }, h('h1', { tabindex: '-1' }, 'Edge nodes'), refresh),
    summary,
    alert,
    list,
  );

  async function load() {
    refresh.disabled = true;
    try {
      const status = await api.get('/api/routes/status');
      alert.hidden = true;
      const behind = status.edges.filter((e) => !e.inSync).length;
      summary.textContent = `Latest configuration revision: ${status.revision}. ${status.edges.length} edge node${status.edges.length === 1 ? '' : 's'} live${behind ? `, ${behind} not yet in sync` : ', all in sync'}.`;
      const rows = status.edges.map((e) => [
        e.node,
        String(e.revision),
        yesNo(e.inSync, 'In sync', 'Behind'),
        timeEl(e.startedAt),
        timeEl(e.lastSeen),
        String(e.routes),
      ]);
      replace(list, table('Edge nodes', ['Node', 'Applied revision', 'In sync', 'Started', 'Last seen', 'Routes'], rows, {
        emptyText: 'No edge node has reported in the last 15 seconds.',
      }));
    } catch (e) {
      alert.textContent = e.message;
      alert.hidden = false;
    } finally {
      refresh.disabled = false;
    }
  }

  await load();
}
