// The console's only door to the server: the REST API with the caller's login access
// token. The session (access token, refresh token, login) lives in sessionStorage, so it
// survives a reload but not the closing of the tab, and is never put in a URL.
// An access token lives 10 minutes: it is refreshed with the refresh token shortly
// before it expires, and once more when a call is answered 401.

const KEY = 'cells.session';
const EARLY_MS = 30_000;

/** A failed call: the HTTP status and the server's `Detail`. */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

let session = restore();
let refreshing = null;
let onSignedOut = () => {};

function restore() {
  try {
    const text = sessionStorage.getItem(KEY);
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
}

/** Who is signed in: `{login, admin}`, or null. */
export function whoami() {
  return session ? { login: session.login, admin: session.admin } : null;
}

/** Called when the session ends by itself (refresh refused). */
export function onSessionEnd(callback) {
  onSignedOut = callback;
}

/**
 * Ends the login: forgets it in this tab at once, then asks the server to revoke it
 * (RFC 7009), which ends the refresh token, its successors and the access tokens issued
 * from it. Best effort: an unreachable server leaves a login nobody holds any more.
 */
export async function signOut() {
  const ending = session;
  save(null);
  if (!ending) return;
  try {
    await fetch('/oauth2/revoke', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: ending.refresh }),
      cache: 'no-store',
    });
  } catch {
    // Nothing to tell the user: the tab holds no credential any more.
  }
}

/** Turns an error answer into an ApiError carrying the server's message. */
export async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const retry = Number(response.headers.get('Retry-After')) || undefined;
  const detail = (body && (body.Detail || body.error_description)) || `${response.status} ${response.statusText}`.trim();
  const code = (body && (body.Code || body.error)) || String(response.status);
  return new ApiError(response.status, code, detail, retry);
}

function grantToSession(grant, login, admin) {
  return {
    login,
    admin,
    access: grant.access_token,
    refresh: grant.refresh_token,
    expiresAt: Date.now() + grant.expires_in * 1000,
  };
}

async function grant(form) {
  let response;
  try {
    response = await fetch('/oauth2/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'Network', 'the server cannot be reached');
  }
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

/** The password grant; then finds out whether the login is an admin. */
export async function signIn(login, password) {
  const answer = await grant({ grant_type: 'password', username: login, password });
  save(grantToSession(answer, login, false));
  // Admin or not: the users list answers admins only. The server decides every call
  // anyway; this only chooses which pages to offer.
  try {
    await call('GET', '/a/users?limit=1');
    const me = await call('GET', `/a/users/${encodeURIComponent(login)}`);
    save({ ...session, admin: true, login: me.Login });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
  }
  return whoami();
}

async function refresh() {
  if (!session) throw new ApiError(401, 'Unauthorized', 'you are signed out');
  if (!refreshing) {
    const { login, admin, refresh: token } = session;
    refreshing = grant({ grant_type: 'refresh_token', refresh_token: token })
      .then((answer) => save(grantToSession(answer, login, admin)))
      .catch((err) => {
        save(null);
        onSignedOut('Your session has ended: sign in again.');
        throw new ApiError(401, 'Unauthorized', 'your session has ended: sign in again');
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** A valid access token, refreshed first when it is about to expire. */
export async function accessToken() {
  if (!session) throw new ApiError(401, 'Unauthorized', 'you are signed out');
  if (Date.now() > session.expiresAt - EARLY_MS) await refresh();
  return session.access;
}

async function send(method, path, body, token) {
  const headers = { Authorization: `Bearer ${token}` };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(path, init);
  } catch {
    throw new ApiError(0, 'Network', 'the server cannot be reached');
  }
}

/** Sends an authenticated request; the raw Response on success. */
export async function request(method, path, body) {
  const token = await accessToken();
  let response = await send(method, path, body, token);
  if (response.status === 401 && session) {
    // Another call may have renewed the token meanwhile: then only retry.
    if (session.access === token) await refresh();
    response = await send(method, path, body, session.access);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** Sends an authenticated JSON request; the parsed answer (null for 204). */
export async function call(method, path, body) {
  const response = await request(method, path, body);
  if (response.status === 204) return null;
  const type = response.headers.get('Content-Type') || '';
  return type.includes('json') ? response.json() : response.text();
}

/** `/a/tree/...` or `/io/...` for a path like `/personal-files/a b/c#.txt`. */
export function treeUrl(prefix, path) {
  const segments = path.split('/').filter((s) => s !== '');
  return prefix + segments.map(encodeURIComponent).join('/');
}

/**
 * Uploads `file` to `path` with a PUT to /io, reporting progress (0..1) as it goes.
 * XHR rather than fetch: only XHR reports upload progress.
 */
export async function upload(path, file, onProgress) {
  const token = await accessToken();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', treeUrl('/io/', path));
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onerror = () => reject(new ApiError(0, 'Network', 'the upload was interrupted'));
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else {
        const detail = (body && body.Detail) || `${xhr.status} ${xhr.statusText}`;
        reject(new ApiError(xhr.status, (body && body.Code) || String(xhr.status), detail));
      }
    };
    xhr.send(file);
  });
}
