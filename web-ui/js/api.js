// The REST API (docs/api.md) from the dashboard: same origin, the session
// cookie (HttpOnly, so no script ever sees a secret), and the header
// X-Sluice-CSRF on every request that changes something.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || '';
    this.field = error.field || '';
    this.errors = error.errors || [];
    this.line = error.line || 0;
  }
}

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

export async function api(method, path, body, headers = {}) {
  const init = {method, credentials: 'same-origin', headers: {...headers}};
  if (method !== 'GET' && method !== 'HEAD') init.headers['X-Sluice-CSRF'] = '1';
  if (body !== undefined) {
    init.headers['Content-Type'] = init.headers['Content-Type'] || 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch (e) { json = null; } }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && path !== '/api/v1/session') onSignedOut(error);
    throw error;
  }
  return {status: response.status, json, text, etag: response.headers.get('ETag'), headers: response.headers};
}

export const get = path => api('GET', path);

// The rule's version from an ETag ("\"3\"" -> 3).
export function versionOf(etag) { return etag ? Number(etag.replace(/[^0-9]/g, '')) : null; }
