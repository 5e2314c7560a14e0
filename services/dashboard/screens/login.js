// /login: sign in, and when the browser will not keep the session cookie,
// say why in plain words (GET /api/auth/diagnose) before and after trying.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { Form, busy } from '../forms.js';

/** Causes that make every login fail however often it is retried. */
const BLOCKING = new Set(['secure_cookie_over_http', 'host_mismatch']);

/**
 * The browser still holds a cookie the server refuses: a session that ended
 * (revoked, expired, or signed with a secret since rotated away). Worth a
 * calm word on why the user is here; a fresh login fixes it.
 */
const ENDED = new Set(['session_revoked', 'session_expired', 'unknown_signing_secret', 'invalid_signature', 'malformed_cookie']);

/** PROXYOS_URL's origin: `expected.origin` if the server gives it, else from its message. */
function expectedOrigin(d) {
  const expected = d.expected || {};
  if (expected.origin) return expected.origin;
  const m = /https?:\/\/[^\s,"]+[^\s,".]/.exec(d.message || '');
  if (m) return m[0];
  return `${expected.scheme || 'https'}://${expected.host || ''}`;
}

function isLoopback() {
  return ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname) || location.hostname.endsWith('.localhost');
}

/** The explanation of a diagnose answer, as nodes (with a link to the right address). */
export function explain(d, after = false) {
  const request = d.request || {};
  const expected = d.expected || {};
  const origin = expectedOrigin(d);
  const here = `${location.protocol}//${location.host}`;
  const openLink = h('a', { href: `${origin}/login` }, origin);
  switch (d.cause) {
    case 'secure_cookie_over_http':
      return [
        h('strong', {}, after ? 'Your browser dropped the session cookie. ' : 'Your browser will drop the session cookie at this address. '),
        `It is marked Secure because PROXYOS_URL is ${origin}, and this page is served over plain HTTP (${here}). Open `,
        openLink,
        ` instead, or set PROXYOS_URL to http://${location.host} and restart ProxyOS.`,
        isLoopback() && !after
          ? ' (Some browsers make an exception for localhost, so signing in may work here, but not from another machine.)'
          : '',
      ];
    case 'host_mismatch':
      return [
        h('strong', {}, after ? 'Your browser dropped the session cookie. ' : 'This is not the address ProxyOS is configured for. '),
        `You opened the dashboard at ${request.host || location.hostname}, but PROXYOS_URL names ${expected.host || origin}: the session cookie is meant for ${expected.host || 'that host'}, and changes made from this address are refused (CSRF check). Open `,
        openLink,
        ` instead, or set PROXYOS_URL to ${here} if that is the address you use.`,
      ];
    case 'unknown_signing_secret':
    case 'session_expired':
    case 'session_revoked':
    case 'invalid_signature':
    case 'malformed_cookie':
      return [d.message];
    case 'no_cookie_received':
      return [
        'The server accepted the password, but your browser did not send the session cookie back. ',
        'Check that cookies are allowed for this site (private browsing or a blocker may refuse them). ',
        d.message || '',
      ];
    default:
      return [d.message || `Cause: ${d.cause}`];
  }
}

async function diagnose() {
  try {
    return await api.get('/api/auth/diagnose', { quiet401: true });
  } catch {
    return null;
  }
}

/** Where to go after the login: the server-validated redirect, a safe local rd, or /routes. */
function destination(answer, rd) {
  if (answer && typeof answer.redirect === 'string' && answer.redirect) return answer.redirect;
  if (rd && rd.startsWith('/') && !rd.startsWith('//') && !rd.startsWith('/\\') && !rd.startsWith('/login')) return rd;
  return '/routes';
}

function go(target, navigate) {
  let url;
  try {
    url = new URL(target, location.origin);
  } catch {
    return navigate('/routes');
  }
  // A dashboard screen: stay in the app. Anything else (an API such as the
  // handoff, or another host the server vouched for): a real navigation.
  if (url.origin === location.origin && !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/.proxyos/'))
    return navigate(url.pathname + url.search);
  location.assign(url.href);
}

export async function render(main, { params, navigate, setSession }) {
  const rd = params.get('rd') || '';
  const heading = h('h1', { tabindex: '-1' }, 'Sign in to ProxyOS');
  const notice = h('div', { class: 'alert alert-warning', role: 'alert', hidden: true, id: 'login-diagnosis' });
  const ended = h('p', { class: 'notice', role: 'status', hidden: true, id: 'login-session-ended' });
  const form = new Form({ label: 'Sign in', onSubmit: submit });
  form.add(
    form.text('username', 'Username', { autocomplete: 'username', required: true, autocapitalize: 'none' }),
    form.text('password', 'Password', { type: 'password', autocomplete: 'current-password', required: true }),
  );
  const button = h('button', { type: 'submit' }, 'Sign in');
  form.actions(button);
  replace(main, h('div', { class: 'login-card' }, heading, notice, ended, form.el));
  document.title = 'Sign in · ProxyOS';

  // Already signed in (e.g. back button): go on.
  try {
    const s = await api.get('/api/auth/session', { quiet401: true });
    if (s && (s.role === 'admin' || s.role === 'viewer')) {
      setSession(s);
      return go(destination(null, rd), navigate);
    }
  } catch {
    // not signed in: the form it is
  }

  // Tell the user before they try when the cookie cannot possibly stick, or
  // why the session they had no longer works.
  const before = await diagnose();
  if (before && BLOCKING.has(before.cause)) {
    replace(notice, ...explain(before));
    notice.hidden = false;
  } else if (before && ENDED.has(before.cause)) {
    ended.textContent = before.message;
    ended.hidden = false;
  }
  form.control('username').focus();

  async function submit() {
    form.clearErrors();
    const username = form.value('username').trim();
    const password = form.value('password');
    if (!username || !password) {
      const missing = [];
      if (!username) missing.push({ field: 'username', message: 'Enter your username.' });
      if (!password) missing.push({ field: 'password', message: 'Enter your password.' });
      form.showError({ problems: () => missing });
      return;
    }
    await busy(button, async () => {
      let answer;
      try {
        const body = { username, password };
        if (rd) body.rd = rd;
        answer = (await api.post('/api/auth/login', body, { quiet401: true })).data;
      } catch (e) {
        if (e.status === 401) {
          form.showError({ problems: () => [{ message: 'Wrong username or password.' }] });
          form.control('password').value = '';
        } else if (e.status === 429) {
          const wait = e.retryAfter ? ` Try again in ${e.retryAfter} seconds.` : ' Try again later.';
          form.showError({ problems: () => [{ message: `Too many failed sign-ins.${wait}` }] });
        } else {
          form.showError(e, body(username));
        }
        return;
      }
      // The cookie must now come back; if it does not, the browser dropped it.
      let s;
      try {
        s = await api.get('/api/auth/session', { quiet401: true });
      } catch (e) {
        const d = await diagnose();
        const explanation = d ? explain(d, true) : [`The password was accepted, but the session does not work: ${e.message}`];
        form.showAlert(h('p', {}, h('strong', {}, 'Signed in, but your browser did not keep the session. ')), h('p', {}, ...explanation));
        notice.hidden = true;
        ended.hidden = true;
        return;
      }
      setSession(s);
      go(destination(answer, rd), navigate);
    });
  }
}

function body(username) {
  return { username };
}
