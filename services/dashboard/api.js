// Every call to the ProxyOS REST APIs. Same origin as the dashboard, so the
// session cookie goes along and the browser adds the Origin header that the
// CSRF check of cookie-authenticated changes needs.

/** An API answer that was not 2xx, carrying the JSON error body. */
export class ApiError extends Error {
  constructor(status, body, headers) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status === 0 ? 'network_error' : 'http_error');
    this.field = err.field || '';
    this.details = Array.isArray(err.details) ? err.details : [];
    this.retryAfter = headers ? headers.get('Retry-After') : null;
  }

  /** Every {field, message, code} problem, the top-level one included once. */
  problems() {
    if (this.details.length) return this.details;
    return [{ field: this.field, message: this.message, code: this.code }];
  }
}

let onUnauthenticated = null;
/** Called when an API answers 401 (session gone): the app sends the user to /login. */
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

/**
 * request('PUT', '/api/routes/1', {body, ifMatch: 3}) -> {status, data, etag}.
 * Throws ApiError for non-2xx. `quiet401` keeps a 401 from redirecting to login.
 */
export async function request(method, path, { body, ifMatch, quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network_error', message: `Cannot reach ProxyOS: ${e.message}` } });
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    if (!data || !data.error) {
      data = { error: { code: 'http_error', message: `${method} ${path} answered HTTP ${resp.status}` } };
    }
    const error = new ApiError(resp.status, data, resp.headers);
    if (error.code === 'csrf')
      error.message = `${error.message}. This page is open at ${location.origin}; open the dashboard at PROXYOS_URL's address to make changes.`;
    if (resp.status === 401 && !quiet401 && onUnauthenticated) onUnauthenticated(error);
    throw error;
  }
  const etag = resp.headers.get('ETag');
  return { status: resp.status, data, etag: etag ? etag.replace(/"/g, '') : null };
}

export const get = (path, opts) => request('GET', path, opts).then((r) => r.data);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body });
export const patch = (path, body, opts = {}) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** Path segment escaping for ids taken from data. */
export const seg = (s) => encodeURIComponent(String(s));
