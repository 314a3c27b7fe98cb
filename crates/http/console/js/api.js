// The console's only way to the server: the full Oz API with the session's access token.
// The token lives in sessionStorage (this tab only, gone when it closes), never in a URL.

const KEY = 'openoz.session';

export class ApiError extends Error {
  constructor(status, body) {
    const msg = (body && (body.error_message || body.message)) || `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.code = body ? body.error_code : undefined;
    this.details = body ? body.details : undefined;
  }
}

let onExpired = () => {};
/** What to do when the server says the session is gone (401). */
export function setExpiredHandler(fn) { onExpired = fn; }

export function session() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch (_) {
    return null;
  }
}

function saveSession(s) {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s)); else sessionStorage.removeItem(KEY);
}

/** Query string from an object; empty values are left out. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    u.append(k, String(v));
  }
  const s = u.toString();
  return s ? `?${s}` : '';
}

/**
 * One API call. `opts`: query (object), json (body), form (FormData), method.
 * Answers the parsed JSON (or null for 204); throws ApiError.
 */
export async function api(path, opts = {}) {
  const s = session();
  const headers = {};
  if (s && s.token) headers['X-Forensic-Access-Token'] = s.token;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form;
  }
  const method = opts.method || (body ? 'POST' : 'GET');
  const res = await fetch(`${path}${qs(opts.query)}`, { method, headers, body, credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = { error_message: text.slice(0, 200) }; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && s && !opts.noExpire) {
      saveSession(null);
      onExpired(err);
    }
    throw err;
  }
  return data;
}

/**
 * Uploads a multipart form with progress: `onProgress({loaded, total})` as bytes go out. `signal`
 * (an AbortSignal) cancels it: the promise then rejects with an ApiError of status 0 whose message
 * says so. Answers the parsed JSON; throws ApiError like `api`.
 */
export function upload(path, form, { onProgress, signal } = {}) {
  const s = session();
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    if (s && s.token) x.setRequestHeader('X-Forensic-Access-Token', s.token);
    x.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress({ loaded: e.loaded, total: e.total }); };
    x.onerror = () => reject(new TypeError('network error'));
    x.onabort = () => reject(Object.assign(new ApiError(0, { error_message: 'Upload cancelled.' }), { cancelled: true }));
    x.onload = () => {
      let data = null;
      try { data = x.responseText ? JSON.parse(x.responseText) : null; } catch (_) { data = { error_message: x.responseText.slice(0, 200) }; }
      if (x.status >= 200 && x.status < 300) {
        resolve(data);
        return;
      }
      const err = new ApiError(x.status, data);
      if (x.status === 401 && s) {
        saveSession(null);
        onExpired(err);
      }
      reject(err);
    };
    if (signal) signal.addEventListener('abort', () => x.abort(), { once: true });
    x.send(form);
  });
}

let limits = null;
/** The server's upload limits (`GET /api/config/` → `uploads`), asked once per page load. */
export async function uploadLimits() {
  if (!limits) limits = api('/api/config/').then((c) => c.uploads || null).catch(() => null);
  return limits;
}

/** A size for people: 1536 → "1.5 KB", 31457280 → "30 MB". */
export function sizeText(n) {
  const units = ['bytes', 'KB', 'MB', 'GB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} bytes` : `${Number(v.toFixed(v >= 10 ? 0 : 1))} ${units[i]}`;
}

/**
 * Checks files against the server's limits before they are sent: answers a sentence saying what
 * is wrong with the first one that does not fit, or null. `files`: [{label, file}].
 */
export async function checkFiles(files) {
  const l = await uploadLimits();
  if (!l) return null;
  if (files.length > l.max_files) return `Choose at most ${l.max_files} files.`;
  let total = 0;
  for (const { label, file } of files) {
    total += file.size;
    if (file.size === 0) return `${label} "${file.name}" is empty.`;
    if (file.size > l.max_file_bytes) {
      return `${label} "${file.name}" is ${sizeText(file.size)}; the server takes files up to ${sizeText(l.max_file_bytes)}.`;
    }
    if (file.type && !l.media_types.includes(file.type)) {
      return `${label} "${file.name}" is not a photo or video the server reads (JPEG, PNG, MP4, MOV, WebM, MKV, AVI or a zip of photos).`;
    }
  }
  if (total > l.max_request_bytes) return `These files are ${sizeText(total)} together; the server takes up to ${sizeText(l.max_request_bytes)} at once.`;
  return null;
}

/** Signs in; keeps the token and who the user is. */
export async function login(email, password) {
  const res = await api('/api/authorize/auth', { json: { credentials: { email, password } }, noExpire: true });
  const s = { token: res.access_token, user_id: res.user_id, user_type: res.user_type, company_id: res.company_id, email };
  saveSession(s);
  try {
    const me = await api(`/api/users/${encodeURIComponent(res.user_id)}/`);
    s.is_admin = !!me.is_admin;
    s.is_service = !!me.is_service;
    s.email = me.email || email;
    s.name = [me.first_name, me.last_name].filter(Boolean).join(' ');
    saveSession(s);
  } catch (_) { /* the token works; flags default to false */ }
  return s;
}

export async function logout() {
  try { await api('/api/authorize/logout', { method: 'POST', noExpire: true }); } catch (_) { /* gone anyway */ }
  saveSession(null);
}

/** What the signed-in user may do, as the API's role table says (docs/API.md). The server
 * enforces it; the console only hides what would answer 403. */
export function can(what) {
  const s = session();
  if (!s) return false;
  const t = s.user_type;
  switch (what) {
    case 'upload': return t === 'ADMIN' || t === 'CLIENT';
    case 'decide': return t === 'OPERATOR' || t === 'CLIENT_OPERATOR';
    case 'audit': return t === 'ADMIN' || t === 'OPERATOR' || t === 'CLIENT_OPERATOR' || (t === 'CLIENT' && s.is_admin);
    case 'admin': return t === 'ADMIN' || (t === 'CLIENT' && s.is_admin);
    case 'companies': return t === 'ADMIN' || t === 'OPERATOR';
    case 'manage_collections': return t === 'ADMIN' || (t === 'CLIENT' && s.is_admin);
    case 'delete_folders': return t === 'ADMIN' || (t === 'CLIENT' && s.is_admin);
    case 'all_users': return t !== 'CLIENT' || s.is_admin;
    default: return false;
  }
}

/** A stored file's link (absolute `{OZ_PUBLIC_URL}/static/...?expires=&signature=`) as a path on
 * this origin, so the page's Content-Security-Policy ('self') admits it behind any proxy. */
export function fileUrl(u) {
  if (!u) return null;
  try {
    const url = new URL(u, location.href);
    const i = url.pathname.indexOf('/static/');
    if (i < 0) return null;
    return url.pathname.slice(i) + url.search;
  } catch (_) {
    return null;
  }
}
