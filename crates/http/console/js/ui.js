// Small DOM helpers. Everything the server sends is put into the page as text nodes or attribute
// values, never parsed as HTML: metadata, tags and names come from API callers.

/** h('a', {href, class, onclick, 'aria-label'}, child, ...): an element; strings become text. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'multiple' || k === 'required') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Page heading and document title. */
export function title(text, ...extra) {
  document.title = `${text} · openoz console`;
  return h('div', { class: 'page-head' }, h('h1', { id: 'page-title' }, text), ...extra);
}

/** UNIX seconds as local date and time (ISO-like, sortable); empty for none. */
export function time(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = new Date(Number(t) * 1000);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `<time>` element for UNIX seconds. */
export function timeEl(t) {
  if (t === null || t === undefined) return h('span', { class: 'muted' }, '—');
  const d = new Date(Number(t) * 1000);
  return h('time', { datetime: Number.isNaN(d.getTime()) ? undefined : d.toISOString() }, time(t));
}

/** The first 8 characters of an id, full id in the title. */
export function shortId(id) {
  if (!id) return h('span', { class: 'muted' }, '—');
  return h('code', { title: id }, String(id).slice(0, 8));
}

const BADGES = {
  SUCCESS: 'ok', FINISHED: 'ok', DECLINED: 'bad', FAILED: 'bad', OPERATOR_REQUIRED: 'warn',
  PROCESSING: 'info', PENDING: 'info', delivered: 'ok', failed: 'bad', pending: 'info',
};

/** A status word as a coloured badge (colour is never the only signal: the word is there). */
export function badge(status) {
  if (!status) return h('span', { class: 'muted' }, '—');
  return h('span', { class: `badge ${BADGES[status] || 'plain'}` }, String(status));
}

/** A number with a fixed number of decimals. */
export function num(x, digits = 3) {
  if (x === null || x === undefined || x === '') return '—';
  const n = Number(x);
  return Number.isFinite(n) ? n.toFixed(digits) : String(x);
}

/** A chance in 0..1 as a percentage for people: 0.0004 → "0.04 %", 0.42 → "42 %". */
export function pct(x) {
  if (x === null || x === undefined || x === '') return '—';
  const n = Number(x) * 100;
  if (!Number.isFinite(n)) return String(x);
  const digits = n >= 10 ? 0 : n >= 1 ? 1 : 2;
  return `${Number(n.toFixed(digits))} %`;
}

/** A QUALITY score with its meaning: "spoofing chance 0.04 %, declined above 42 %". */
export function spoofingWords(score, threshold) {
  if (score === null || score === undefined) return 'no liveness score';
  const limit = threshold === null || threshold === undefined ? '' : `, declined above ${pct(threshold)}`;
  return `spoofing chance ${pct(score)}${limit}`;
}

/** A BIOMETRY similarity with its meaning: "similarity 0.18, same person at 0.85 or more". */
export function similarityWords(score, approve) {
  if (score === null || score === undefined) return 'no similarity';
  const limit = approve === null || approve === undefined ? '' : `, same person at ${num(approve, 2)} or more`;
  return `similarity ${num(score, 3)}${limit}`;
}

/**
 * A table. columns: [{label, cell: (row) => node|string, class}]; rows: array.
 * caption: accessible name. Wrapped so it scrolls sideways on a phone.
 */
export function table(columns, rows, { caption, empty = 'Nothing here.', rowAttrs } = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty muted' }, empty);
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'table' },
    h('table', { class: 'cards' },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))))));
}

/** Paging links for a `{total, offset, limit}` answer. go(offset) moves. */
export function pager(page, go) {
  const { total, offset, limit } = page;
  const from = total === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, total ?? offset + limit);
  const prev = h('button', { type: 'button', class: 'btn', disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, '← Previous');
  const next = h('button', { type: 'button', class: 'btn', disabled: total !== undefined && offset + limit >= total, onclick: () => go(offset + limit) }, 'Next →');
  return h('div', { class: 'pager', role: 'navigation', 'aria-label': 'Pages' },
    prev, h('span', { class: 'pager-info', 'aria-live': 'polite' }, total === undefined ? `${from}–${to}` : `${from}–${to} of ${total}`), next);
}

/** A labelled form control. `control` gets an id if it has none. */
let seq = 0;
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++seq}`;
  const hintEl = hint ? h('small', { id: `${control.id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** A `<select>`: options as [value, label] pairs. */
export function select(name, options, value) {
  return h('select', { name }, options.map(([v, l]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, l)));
}

// What an operator should not have to read: setting names, byte counts, internal ids.
const SETTING = /\bOZ_[A-Z0-9_]+\b/;
const BYTES = /\b\d[\d_,.]*\s*bytes?\b/i;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/i;

/**
 * An error in plain words for the people using the console. The API's precise message is kept
 * when it is already plain (a field that is wrong, "Folder does not exist"); answers about limits,
 * load, sessions and server faults get a sentence that says what to do.
 */
export function plainMessage(e) {
  const status = e && e.status;
  // "media <id> ("photo1"): no face found ..." names the media by an id the page shows otherwise.
  const m = String((e && e.message) || e || '').replace(/\bmedia [0-9a-f-]{36}( \([^)]*\))?:\s*/gi, '');
  if (status === 401) return 'Your session has ended. Log in again.';
  if (status === 403) return 'Your role does not allow this.';
  if (status === 413) return 'This is larger than the server accepts. Choose a smaller file.';
  if (status === 429) return 'Too many requests just now. Wait a minute and try again.';
  if (status === 503) return 'The server is busy. Try again in a few seconds.';
  if (status >= 500) return 'Something went wrong on the server. Try again; if it keeps happening, tell your administrator.';
  if (e instanceof TypeError) return 'The server cannot be reached. Check the connection and try again.';
  if (SETTING.test(m) || BYTES.test(m) || UUID.test(m)) {
    return status === 404 ? 'Not found: it may have been deleted.' : 'The server refused this request. Check what you entered and try again.';
  }
  return m;
}

/** An error message box for an ApiError or any Error, in plain words (`plainMessage`). */
export function errorBox(e) {
  return h('div', { class: 'alert', role: 'alert', 'data-code': e && e.code !== undefined ? String(e.code) : null }, plainMessage(e));
}

/** A short message in the live region. */
export function toast(msg) {
  const t = document.getElementById('toast');
  if (!t) return;
  t.textContent = msg;
  t.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove('show'), 4000);
}

/** Key/value pairs (metadata) as a definition list; nested values as JSON text. */
export function kv(obj, empty = 'None.') {
  const entries = Object.entries(obj || {});
  if (entries.length === 0) return h('p', { class: 'muted' }, empty);
  return h('dl', { class: 'kv' }, entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))]));
}

/** A titled section. */
export function section(heading, ...children) {
  const id = `s${++seq}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, heading), ...children);
}

/** Runs an async action from a button, disabling it meanwhile; errors go to `errorTarget` or a toast. */
export async function busy(button, fn, errorTarget) {
  if (button) button.disabled = true;
  try {
    if (errorTarget) errorTarget.replaceChildren();
    return await fn();
  } catch (e) {
    if (errorTarget) errorTarget.replaceChildren(errorBox(e)); else toast(plainMessage(e));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Seconds from a `<input type=datetime-local>` value (local time); '' when empty. */
export function fromLocalInput(v) {
  if (!v) return '';
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? '' : Math.floor(t / 1000);
}

/** A `<input type=datetime-local>` value from UNIX seconds. */
export function toLocalInput(t) {
  if (t === '' || t === null || t === undefined) return '';
  const s = time(t);
  return s ? s.replace(' ', 'T') : '';
}
