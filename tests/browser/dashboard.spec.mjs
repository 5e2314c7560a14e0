// Browser end-to-end test of the dashboard, in headless Chromium through the
// real edge and services. Plain Node (no test framework): each step logs one
// line; the first failure saves failure-<step>.png and exits non-zero.
//
// Environment (set by tests/browser/run.sh):
//   DASHBOARD_URL      the dashboard as the browser opens it, e.g. http://dash.proxyos.test:18480
//                      (main: PROXYOS_URL itself; secure-cookie-over-http: its http:// twin;
//                      host-mismatch: http://127.0.0.1:<port>)
//   PROXYOS_URL        optional: the configured URL (for the host-mismatch wording check)
//   ADMIN_USER, ADMIN_PASSWORD
//   EDGE_HTTP_PORT     the edge's plain-HTTP port (routes are reached there)
//   ROUTE_HOST_SUFFIX  routes use hosts app.<suffix>; Chromium maps *.<suffix> to 127.0.0.1
//   UPSTREAM_URL       optional echo upstream ({"method","path","headers"}); when unset the
//                      spec starts its own on 127.0.0.1
//   SCREENSHOT_DIR     where the PNGs go (default ./screenshots)
//   SCENARIO           main | secure-cookie-over-http | host-mismatch
//   BROWSER_HOST_RULES optional Chromium --host-resolver-rules (default MAP *.<suffix> 127.0.0.1)
//   CHROMIUM           optional, default /usr/bin/chromium

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const PROCESS_TIMEOUT_MS = 120_000;
const PAGE_TIMEOUT_MS = 10_000;

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`dashboard.spec: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

const SCENARIO = process.env.SCENARIO || 'main';
const DASHBOARD_URL = need('DASHBOARD_URL').replace(/\/+$/, '');
const EDGE_HTTP_PORT = process.env.EDGE_HTTP_PORT || new URL(DASHBOARD_URL).port || '80';
const SUFFIX = (process.env.ROUTE_HOST_SUFFIX || 'proxyos.test').replace(/^\.+/, '');
const SHOTS = path.resolve(process.env.SCREENSHOT_DIR || 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
fs.mkdirSync(SHOTS, { recursive: true });

// Never hang: the whole run is bounded.
setTimeout(() => {
  console.error(`FAIL timeout: the ${SCENARIO} scenario took longer than ${PROCESS_TIMEOUT_MS / 1000} s`);
  process.exit(3);
}, PROCESS_TIMEOUT_MS).unref();

let browser;
let current = null; // the page a failure screenshot is taken of
const cleanups = [];

function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e.message.split('\n').slice(0, 6).join('\n     ')}`);
    if (current && !current.isClosed()) {
      const file = path.join(SHOTS, `failure-${slug(name)}.png`);
      await current.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`     screenshot: ${file}; page: ${current.url()}`);
    }
    throw e;
  }
}

async function shot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

async function newPage(context, width = 1280) {
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
  await page.setViewportSize({ width, height: 900 });
  page.on('pageerror', (e) => console.log(`     page error: ${e.message}`));
  current = page;
  return page;
}

async function launch() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxyos-chromium-'));
  cleanups.push(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  // Playwright gives the browser a fresh temporary profile of its own (it
  // refuses --user-data-dir with launch()); HOME is a fresh directory too so
  // nothing of the machine's user leaks in. Each context (admin, viewer) is
  // an isolated cookie jar.
  const b = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--host-resolver-rules=${process.env.BROWSER_HOST_RULES || `MAP *.${SUFFIX} 127.0.0.1`}`,
    ],
    env: { ...process.env, HOME: userDataDir },
    timeout: 30_000,
  });
  return b;
}

/** A tiny echo upstream, unless the harness gives one. */
async function echoUpstream() {
  if (process.env.UPSTREAM_URL) return process.env.UPSTREAM_URL.replace(/\/+$/, '');
  const server = http.createServer((req, res) => {
    const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return `http://127.0.0.1:${server.address().port}`;
}

async function login(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function heading(page, name) {
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

/** The text of the error element a control's aria-describedby points at. */
async function fieldError(locator) {
  return locator.evaluate((el) =>
    (el.getAttribute('aria-describedby') || '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent || '')
      .join(' '),
  );
}

// ---------------------------------------------------------------------------

async function mainScenario() {
  const ADMIN_USER = need('ADMIN_USER');
  const ADMIN_PASSWORD = need('ADMIN_PASSWORD');
  const upstream = await echoUpstream();
  const appHost = `app.${SUFFIX}`;
  const providerName = 'Built-in SSO';
  const viewerName = 'viewer1';
  const viewerPassword = 'viewer-password-123';

  const admin = await browser.newContext({ ignoreHTTPSErrors: true });
  let page = await newPage(admin);

  await step('login page loads without a cookie warning', async () => {
    await page.goto(`${DASHBOARD_URL}/login`);
    await heading(page, 'Sign in to ProxyOS');
    await page.waitForLoadState('networkidle');
    assert.equal(await page.locator('#login-diagnosis').isVisible(), false, 'no diagnosis is shown on a correct setup');
    await shot(page, 'login');
  });

  await step('wrong password is refused in words', async () => {
    await login(page, ADMIN_USER, 'not-the-password');
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
  });

  await step('admin logs in and lands on routes', async () => {
    await login(page, ADMIN_USER, ADMIN_PASSWORD);
    await heading(page, 'Routes');
    assert.equal(new URL(page.url()).pathname, '/routes');
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    assert.match(await page.locator('.who').textContent(), new RegExp(`${ADMIN_USER}.*admin`));
  });

  await step('new SSO provider from the built-in preset, tested before saving', async () => {
    await page.getByRole('link', { name: 'SSO providers' }).click();
    await heading(page, 'SSO providers');
    await page.getByRole('link', { name: 'New provider' }).click();
    await heading(page, 'New SSO provider');
    await page.getByLabel('Start from preset').selectOption('builtin');
    assert.equal(await page.getByLabel('Type').inputValue(), 'builtin');
    assert.match(await page.getByLabel('Forward auth URL').inputValue(), /\/api\/auth\/verify$/);
    await page.getByLabel('Name', { exact: true }).fill(providerName);
    await page.getByRole('button', { name: 'Test settings' }).click();
    const result = page.getByRole('region', { name: `Test result for ${providerName}` });
    await result.waitFor();
    assert.match(await result.textContent(), /ReachableYes/);
    await shot(page, 'provider-form-test');
    await page.getByRole('button', { name: 'Create provider' }).click();
    await heading(page, 'SSO providers');
    await page.getByRole('link', { name: `Provider ${providerName}` }).waitFor();
  });

  await step('saved provider: Test shows the result', async () => {
    await page.getByRole('button', { name: `Test ${providerName}` }).click();
    const result = page.getByRole('region', { name: `Test result for ${providerName}` });
    await result.waitFor();
    const text = await result.textContent();
    assert.match(text, /ReachableYes/, text);
    assert.match(text, /Status\d{3}/, text);
    assert.match(text, /Missing headers/, text);
    await shot(page, 'providers');
  });

  await step('a wildcard in the wrong place is shown next to Domains', async () => {
    await page.goto(`${DASHBOARD_URL}/routes/new`);
    await heading(page, 'New route');
    await page.getByLabel('Name', { exact: true }).fill('Broken');
    await page.getByLabel('Domains').fill('ok.example.com\na.*.example.com');
    await page.getByLabel('Upstreams').fill(upstream);
    await page.getByRole('button', { name: 'Create route' }).click();
    const domains = page.getByLabel('Domains');
    await page.locator('[aria-invalid="true"]').first().waitFor();
    assert.equal(await domains.getAttribute('aria-invalid'), 'true');
    const message = await fieldError(domains);
    assert.match(message, /a\.\*\.example\.com.*wildcard/i, message);
    assert.equal(await page.getByLabel('Upstreams').getAttribute('aria-invalid'), null, 'only Domains is marked');
    assert.ok(await domains.evaluate((el) => el === document.activeElement), 'focus moves to the invalid field');
    await shot(page, 'route-form-error');
  });

  let routeId;
  await step('create a route with SSO to the echo upstream', async () => {
    await page.getByLabel('Name', { exact: true }).fill('App');
    await page.getByLabel('Domains').fill(appHost);
    await page.getByLabel('Upstreams').fill(upstream);
    await page.getByLabel('Require SSO').check();
    await page.getByLabel('SSO provider').selectOption({ label: `${providerName} (builtin)` });
    await page.getByLabel('Request headers to set').fill('X-Dashboard-Test: yes');
    await page.getByRole('button', { name: 'Create route' }).click();
    await heading(page, 'Routes');
    await page.getByRole('status').filter({ hasText: 'created' }).first().waitFor();
    const link = page.getByRole('link', { name: 'Route App' });
    await link.waitFor();
    routeId = (await link.getAttribute('href')).split('/').pop();
    await page.getByLabel('Search routes').fill('app.');
    await page.getByText(appHost).first().waitFor();
    await shot(page, 'routes');
  });

  await step('routes list at 375 px', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.reload();
    await heading(page, 'Routes');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at 375 px`);
    await shot(page, 'routes-375');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step('the route answers through the edge with the identity for the upstream', async () => {
    const routePage = await newPage(admin);
    const url = `http://${appHost}:${EDGE_HTTP_PORT}/hello?from=browser`;
    let echo = null;
    let last = '';
    // The edge applies the new route within milliseconds; allow a few seconds.
    for (let i = 0; i < 20 && !echo; i += 1) {
      const resp = await routePage.goto(url);
      last = `${resp.status()} ${(await routePage.textContent('body')).slice(0, 200)}`;
      if (resp.status() === 200) {
        try {
          echo = JSON.parse(await routePage.textContent('body'));
        } catch {
          echo = null;
        }
      }
      if (!echo) await routePage.waitForTimeout(250);
    }
    assert.ok(echo, `the route did not reach the upstream: last answer ${last}`);
    assert.equal(echo.headers['x-auth-user'], ADMIN_USER, JSON.stringify(echo.headers));
    assert.equal(echo.headers['x-dashboard-test'], 'yes');
    assert.equal(echo.path, '/hello?from=browser');
    assert.ok(!String(echo.headers.cookie || '').includes('proxyos_session'), 'the session cookie never reaches the upstream');
    await routePage.close();
    current = page;
  });

  await step('an edit saved elsewhere meanwhile is not overwritten (412, reload offered)', async () => {
    const editUrl = `${DASHBOARD_URL}/routes/${routeId}`;
    await page.goto(editUrl);
    await page.getByRole('button', { name: 'Save route' }).waitFor();
    const other = await newPage(admin);
    await other.goto(editUrl);
    await other.getByLabel('Name', { exact: true }).fill('App (edited elsewhere)');
    await other.getByRole('button', { name: 'Save route' }).click();
    await heading(other, 'Routes');
    await other.close();
    current = page;
    await page.getByLabel('Name', { exact: true }).fill('App (stale edit)');
    await page.getByRole('button', { name: 'Save route' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Someone else changed this route' });
    await alert.waitFor();
    const reload = page.getByRole('button', { name: 'Reload the current version' });
    assert.ok(await reload.evaluate((el) => el === document.activeElement), 'focus moves to the reload button');
    await reload.click();
    await page.getByRole('button', { name: 'Save route' }).waitFor();
    const name = page.getByLabel('Name', { exact: true });
    let value = '';
    for (let i = 0; i < 50 && value !== 'App (edited elsewhere)'; i += 1) {
      value = await name.inputValue();
      if (value !== 'App (edited elsewhere)') await page.waitForTimeout(100);
    }
    assert.equal(value, 'App (edited elsewhere)', 'the reloaded form shows the other edit');
  });

  await step('create a group and a viewer user', async () => {
    await page.getByRole('link', { name: 'Users and groups' }).click();
    await heading(page, 'Users and groups');
    await page.getByLabel('Group name').fill('ops');
    await page.getByLabel('Description').fill('Operations');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('status').filter({ hasText: 'Group ops created' }).waitFor();
    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('region', { name: 'New user' });
    await form.getByLabel('Username').fill(viewerName);
    await form.getByLabel('Password').fill('short');
    await form.getByLabel('Role').selectOption('viewer');
    await form.getByLabel('Groups').fill('ops');
    await form.getByRole('button', { name: 'Create user' }).click();
    assert.match(await fieldError(form.getByLabel('Password')), /12/);
    await form.getByLabel('Password').fill(viewerPassword);
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('status').filter({ hasText: `User ${viewerName} created` }).waitFor();
    await shot(page, 'users');
  });

  await step('API token: the secret is shown once', async () => {
    await page.getByRole('link', { name: 'API tokens' }).click();
    await heading(page, 'API tokens');
    await page.getByLabel('Token name').fill('ci-script');
    await page.getByLabel('Token role').selectOption('viewer');
    await page.getByLabel('Expires after (days)').fill('30');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = page.getByLabel('Token secret', { exact: true });
    await secret.waitFor();
    assert.match(await secret.inputValue(), /^pxat_/);
    await page.getByText('you will not see it again', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Copy secret' }).waitFor();
    await shot(page, 'tokens');
  });

  await step('edge nodes show the applied revision and sync state', async () => {
    await page.getByRole('link', { name: 'Edge nodes' }).click();
    await heading(page, 'Edge nodes');
    await page.getByText(/Latest configuration revision: \d+/).waitFor();
    await page.getByRole('cell', { name: 'In sync' }).first().waitFor();
    await shot(page, 'edges');
  });

  await step('certificates screen with the root CA download', async () => {
    await page.getByRole('link', { name: 'Certificates' }).click();
    await heading(page, 'Certificates');
    const ca = page.getByRole('link', { name: /Download the root CA/ });
    assert.equal(await ca.getAttribute('href'), '/api/edge/ca.pem');
    await shot(page, 'certificates');
  });

  await step('viewer sees a read-only dashboard', async () => {
    const viewerContext = await browser.newContext({ ignoreHTTPSErrors: true });
    const vp = await newPage(viewerContext);
    await vp.goto(`${DASHBOARD_URL}/routes`);
    await heading(vp, 'Sign in to ProxyOS');
    assert.equal(new URL(vp.url()).searchParams.get('rd'), '/routes');
    await login(vp, viewerName, viewerPassword);
    await heading(vp, 'Routes');
    assert.match(await vp.locator('.who').textContent(), /viewer/);
    const forbidden = /^(new|edit|delete|save|create|revoke|test|set password|copy|reload)\b/i;
    for (const screen of ['/routes', `/routes/${routeId}`, '/providers', '/users', '/groups', '/sessions', '/tokens', '/edges', '/certificates']) {
      await vp.goto(`${DASHBOARD_URL}${screen}`);
      await vp.locator('main h1').waitFor();
      await vp.waitForLoadState('networkidle');
      const names = await vp.locator('button, a, input[type=submit]').evaluateAll((els) =>
        els.filter((e) => e.offsetParent !== null).map((e) => (e.getAttribute('aria-label') || e.textContent || '').trim()),
      );
      const bad = names.filter((n) => forbidden.test(n));
      assert.deepEqual(bad, [], `${screen} offers write controls to a viewer: ${bad.join(', ')}`);
      if (screen === '/routes') await shot(vp, 'viewer-routes');
    }
    await vp.goto(`${DASHBOARD_URL}/routes/${routeId}`);
    await vp.locator('main h1').waitFor();
    const writable = await vp.locator('main input:not([readonly]):not([disabled]), main textarea:not([readonly]), main select:not([disabled])').count();
    assert.equal(writable, 0, 'the route form is read-only for a viewer');
    await vp.goto(`${DASHBOARD_URL}/routes/new`);
    await heading(vp, 'New route');
    await vp.getByText(/read-only/).first().waitFor();
    assert.equal(await vp.locator('main form').count(), 0, 'no form on /routes/new for a viewer');
    await viewerContext.close();
    current = page;
  });

  await step('sessions screen lists this session', async () => {
    await page.getByRole('link', { name: 'Sessions' }).click();
    await heading(page, 'Sessions');
    await page.getByText('this session').waitFor();
    await shot(page, 'sessions');
  });

  await step('revoking my own session sends me to login', async () => {
    await page.getByRole('button', { name: `Revoke your own session (${ADMIN_USER})` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Revoke session' }).click();
    await heading(page, 'Sign in to ProxyOS');
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.goto(`${DASHBOARD_URL}/sessions`);
    await heading(page, 'Sign in to ProxyOS');
    assert.equal(new URL(page.url()).searchParams.get('rd'), '/sessions', 'the session is really gone');
  });

  await step('log in again (back to where I was) and log out from the UI', async () => {
    await login(page, ADMIN_USER, ADMIN_PASSWORD);
    await heading(page, 'Sessions');
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading(page, 'Sign in to ProxyOS');
    await page.goto(`${DASHBOARD_URL}/routes`);
    await heading(page, 'Sign in to ProxyOS');
  });

  await step('an unvalidated rd is never followed (no open redirect)', async () => {
    await page.goto(`${DASHBOARD_URL}/login?rd=${encodeURIComponent('//evil.example.org/x')}`);
    await heading(page, 'Sign in to ProxyOS');
    await login(page, ADMIN_USER, ADMIN_PASSWORD);
    await heading(page, 'Routes');
    assert.equal(new URL(page.url()).origin, new URL(DASHBOARD_URL).origin);
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading(page, 'Sign in to ProxyOS');
  });

  await admin.close();
}

async function diagnosisScenario(openUrl, expectations, screenshotName) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await newPage(context);
  await step(`login page at ${openUrl} explains the problem before sign-in`, async () => {
    await page.goto(openUrl);
    await heading(page, 'Sign in to ProxyOS');
    const notice = page.locator('#login-diagnosis');
    await notice.waitFor({ state: 'visible' });
    assert.equal(await notice.getAttribute('role'), 'alert');
    const text = await notice.textContent();
    for (const re of expectations) assert.match(text, re, text);
    await shot(page, screenshotName);
  });
  if (process.env.ADMIN_USER && process.env.ADMIN_PASSWORD) {
    await step('signing in there says what happened', async () => {
      await login(page, process.env.ADMIN_USER, process.env.ADMIN_PASSWORD);
      // Chromium keeps Secure cookies on http://localhost (a secure context),
      // so there the login may succeed; anywhere else the alert explains.
      const outcome = await Promise.race([
        page.getByRole('heading', { level: 1, name: 'Routes' }).waitFor().then(() => 'signed in'),
        page.locator('form [role=alert]').filter({ hasText: /did not keep the session/ }).waitFor().then(() => 'explained'),
      ]);
      console.log(`     outcome: ${outcome}`);
      if (outcome === 'explained') {
        const text = await page.locator('form [role=alert]').textContent();
        for (const re of expectations) assert.match(text, re, text);
        await shot(page, `${screenshotName}-after-login`);
      }
    });
  }
  await context.close();
}

async function run() {
  console.log(`dashboard.spec: scenario ${SCENARIO} at ${DASHBOARD_URL}; screenshots in ${SHOTS}`);
  browser = await launch();
  if (SCENARIO === 'main') {
    await mainScenario();
  } else if (SCENARIO === 'secure-cookie-over-http') {
    // The page is opened over plain HTTP (an https DASHBOARD_URL is turned into its http twin).
    const open = new URL(DASHBOARD_URL);
    if (open.protocol === 'https:') {
      open.protocol = 'http:';
      open.port = EDGE_HTTP_PORT;
    }
    await diagnosisScenario(
      `${open.origin}/login`,
      [/marked Secure/, /PROXYOS_URL is https:\/\//, /plain HTTP/, new RegExp(`set PROXYOS_URL to http://${escape(open.host)}`)],
      'login-secure-cookie-over-http',
    );
  } else if (SCENARIO === 'host-mismatch') {
    const open = new URL(DASHBOARD_URL);
    const expected = [new RegExp(`opened the dashboard at ${escape(open.hostname)}`), /PROXYOS_URL names/];
    if (process.env.PROXYOS_URL) {
      const configured = new URL(process.env.PROXYOS_URL);
      expected.push(new RegExp(`PROXYOS_URL names ${escape(configured.hostname)}`), new RegExp(`Open ${escape(configured.origin)}`));
    }
    await diagnosisScenario(`${open.origin}/login`, expected, 'login-host-mismatch');
  } else {
    throw new Error(`unknown SCENARIO ${SCENARIO} (main, secure-cookie-over-http, host-mismatch)`);
  }
}

let code = 0;
try {
  await run();
  console.log(`dashboard.spec: ${SCENARIO} passed`);
} catch (e) {
  code = 1;
  console.log(`dashboard.spec: ${SCENARIO} FAILED`);
} finally {
  await browser?.close().catch(() => {});
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
}
process.exit(code);
