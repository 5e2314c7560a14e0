// /sessions: active login sessions; admins revoke them.

import * as api from '../api.js';
import { h, add, replace, table, timeEl, confirmDialog } from '../dom.js';

export async function render(root, ctx) {
  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const status = h('p', { class: 'count', role: 'status' });
  const list = h('div', {});
  add(root, 
    h('h1', { tabindex: '-1' }, 'Sessions'),
    h('p', { class: 'lead' }, 'Everyone signed in to the dashboard or to a route through the built-in SSO provider. Revoking ends the session on every edge at once.'),
    alert,
    status,
    list,
  );

  async function load() {
    const { sessions } = await api.get('/api/auth/sessions');
    const columns = ['User', 'Role', 'Signed in', 'Last seen', 'Expires', 'Client', 'Browser'];
    if (ctx.canWrite) columns.push('Actions');
    const rows = sessions.map((s) => {
      const cells = [
        h('span', {}, s.username, s.current ? h('span', { class: 'badge badge-ok' }, 'this session') : null, s.parentId ? h('span', { class: 'badge', title: 'Opened on another host by the SSO handoff; ends with the session it came from' }, 'linked') : null),
        s.role,
        timeEl(s.createdAt),
        timeEl(s.lastSeenAt),
        timeEl(s.expiresAt),
        s.clientIp || '—',
        h('span', { class: 'ua', title: s.userAgent || '' }, shortAgent(s.userAgent)),
      ];
      if (ctx.canWrite)
        cells.push(
          h(
            'button',
            {
              type: 'button',
              class: 'small danger',
              'aria-label': s.current ? `Revoke your own session (${s.username})` : `Revoke session of ${s.username} from ${s.clientIp || 'unknown address'}`,
              on: { click: () => revoke(s) },
            },
            'Revoke',
          ),
        );
      return cells;
    });
    replace(list, table('Sessions', columns, rows, { emptyText: 'No active sessions.' }));
  }

  async function revoke(s) {
    const question = s.current
      ? 'Revoke your own session? You will be signed out of the dashboard at once.'
      : `Revoke the session of ${s.username}? They are signed out everywhere at once.`;
    if (!(await confirmDialog(question, 'Revoke session'))) return;
    try {
      await api.del(`/api/auth/sessions/${api.seg(s.id)}`, { quiet401: true });
    } catch (e) {
      alert.textContent = e.message;
      alert.hidden = false;
      return;
    }
    if (s.current) {
      ctx.logoutLocally();
      ctx.navigate('/login');
      return;
    }
    alert.hidden = true;
    await load();
    status.textContent = `Session of ${s.username} revoked.`;
  }

  await load();
}

/** "Mozilla/5.0 (X11; Linux x86_64) … Chrome/139.0 …" -> "Chrome 139 · Linux". */
function shortAgent(ua) {
  if (!ua) return '—';
  const browser = /(Firefox|Edg|OPR|Chrome|Safari|curl)\/(\d+)/.exec(ua);
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(ua);
  if (!browser) return ua.length > 40 ? `${ua.slice(0, 40)}…` : ua;
  const name = { Edg: 'Edge', OPR: 'Opera' }[browser[1]] || browser[1];
  return `${name} ${browser[2]}${os ? ` · ${os[1]}` : ''}`;
}
