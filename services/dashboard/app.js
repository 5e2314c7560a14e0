// The dashboard's entry point: who is logged in, the page frame (navigation,
// user, log out) and which screen a path shows.

import * as api from './api.js';
import { h, replace, navLink } from './dom.js';
import * as router from './router.js';
import * as login from './screens/login.js';
import * as routes from './screens/routes.js';
import * as routeForm from './screens/route_form.js';
import * as providers from './screens/providers.js';
import * as providerForm from './screens/provider_form.js';
import * as users from './screens/users.js';
import * as sessions from './screens/sessions.js';
import * as tokens from './screens/tokens.js';
import * as edges from './screens/edges.js';
import * as certificates from './screens/certificates.js';

const NAV = [
  ['/routes', 'Routes'],
  ['/providers', 'SSO providers'],
  ['/users', 'Users and groups'],
  ['/sessions', 'Sessions'],
  ['/tokens', 'API tokens'],
  ['/edges', 'Edge nodes'],
  ['/certificates', 'Certificates'],
];

let session = null; // GET /api/auth/session, once known
let flashMessage = null; // shown once on the next screen ("Route saved")
let renderCount = 0;

router.route('/routes', routes.render);
router.route('/routes/new', routeForm.render);
router.route('/routes/:id', routeForm.render);
router.route('/providers', providers.render);
router.route('/providers/new', providerForm.render);
router.route('/providers/:id', providerForm.render);
router.route('/users', users.render);
router.route('/groups', users.render);
router.route('/sessions', sessions.render);
router.route('/tokens', tokens.render);
router.route('/edges', edges.render);
router.route('/certificates', certificates.render);

const app = document.getElementById('app');

function currentPath() {
  return location.pathname + location.search;
}

function toLogin() {
  session = null;
  const rd = currentPath();
  router.navigate(rd.startsWith('/login') || rd === '/' ? '/login' : `/login?rd=${encodeURIComponent(rd)}`, {
    replace: true,
  });
}

// A 401 from any API while using the dashboard: the session is gone.
api.setUnauthenticatedHandler(() => {
  if (location.pathname !== '/login') toLogin();
});

async function logout() {
  try {
    await api.post('/api/auth/logout', undefined, { quiet401: true });
  } catch {
    // Even if the server cannot end it, leave the dashboard.
  }
  session = null;
  router.navigate('/login');
}

function frame(main) {
  const path = location.pathname;
  const nav = h(
    'nav',
    { 'aria-label': 'Main' },
    h(
      'ul',
      {},
      NAV.map(([href, text]) => {
        const active = path === href || path.startsWith(`${href}/`) || (href === '/users' && path === '/groups');
        return h('li', {}, navLink(href, text, { 'aria-current': active ? 'page' : undefined }));
      }),
    ),
  );
  const who = h(
    'div',
    { class: 'who' },
    h('span', {}, h('span', { class: 'visually-hidden' }, 'Signed in as '), h('strong', {}, session.username), ' '),
    h('span', { class: `badge role-${session.role}` }, session.role),
    h('button', { type: 'button', class: 'secondary small', on: { click: logout } }, 'Log out'),
  );
  return [
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h('header', { class: 'topbar' }, navLink('/routes', 'ProxyOS', { class: 'brand' }), nav, who),
    main,
  ];
}

function flash(text) {
  flashMessage = text;
}

async function show({ initial }) {
  const token = ++renderCount;
  const path = location.pathname;
  const params = new URLSearchParams(location.search);

  if (path === '/login') {
    const main = h('main', { id: 'main', class: 'page page-login', tabindex: '-1' });
    replace(app, main);
    await login.render(main, {
      params,
      navigate: router.navigate,
      setSession: (s) => {
        session = s;
      },
    });
    if (!initial && token === renderCount) focusHeading(main);
    return;
  }

  if (!session) {
    try {
      session = await api.get('/api/auth/session', { quiet401: true });
    } catch (e) {
      if (token !== renderCount) return;
      if (e.status === 401) return toLogin();
      replace(app, h('main', { id: 'main', class: 'page' }, h('h1', {}, 'ProxyOS is unavailable'), h('p', { role: 'alert' }, e.message)));
      return;
    }
    if (token !== renderCount) return;
  }

  if (path === '/' || path === '') return router.navigate('/routes', { replace: true });

  const main = h('main', { id: 'main', class: 'page', tabindex: '-1' });
  if (session.role !== 'admin' && session.role !== 'viewer') {
    replace(app, main);
    main.append(
      h('h1', { tabindex: '-1' }, 'No dashboard access'),
      h(
        'p',
        {},
        `You are signed in as ${session.username} with the role “${session.role}”. That role can sign in to applications protected by ProxyOS, but not use the dashboard. Ask an administrator for the admin or viewer role.`,
      ),
      h('button', { type: 'button', on: { click: logout } }, 'Log out'),
    );
    return;
  }

  const ctx = {
    session,
    canWrite: session.role === 'admin',
    navigate: router.navigate,
    flash,
    logoutLocally: () => {
      session = null;
    },
  };
  const matched = router.match(path);
  const content = h('div', { class: 'screen' });
  const status = h('div', { class: 'flash', role: 'status' });
  replace(main, status, h('p', { class: 'loading' }, 'Loading…'));
  replace(app, ...frame(main));
  try {
    if (!matched) {
      content.append(h('h1', { tabindex: '-1' }, 'Page not found'), h('p', {}, 'No screen lives at ', h('code', {}, path), '. ', navLink('/routes', 'Go to routes')));
    } else {
      await matched.handler(content, { ...ctx, params: matched.params, query: params });
    }
  } catch (e) {
    if (token !== renderCount) return;
    if (e.status === 401) return;
    content.replaceChildren(h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { role: 'alert', class: 'alert' }, e.message));
  }
  if (token !== renderCount) return;
  replace(main, status, content);
  if (flashMessage) {
    status.textContent = flashMessage;
    status.classList.add('visible');
    flashMessage = null;
  }
  const title = content.querySelector('h1');
  document.title = title ? `${title.textContent} · ProxyOS` : 'ProxyOS';
  if (!initial) focusHeading(main);
}

function focusHeading(root) {
  const heading = root.querySelector('[data-focus-first]') || root.querySelector('h1');
  if (!heading) return;
  if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
  heading.focus();
}

router.start(show);
