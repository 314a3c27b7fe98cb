// Folders: the list with Oz's filters and server-side paging (#/folders?...), and one folder with
// its media, analyses, best shots and webhook deliveries (#/folders/<id>).

import { api, can, session } from '../api.js';
import { h, mount, title, table, pager, field, select, badge, timeEl, shortId, errorBox, fromLocalInput, toLocalInput } from '../ui.js';
import { renderFolder } from './folder.js';

export async function render(main, route) {
  if (route.parts[1]) return renderFolder(main, route, route.parts[1]);
  return renderList(main, route);
}

const STATUSES = [['', 'Any'], ['PROCESSING', 'Processing'], ['FINISHED', 'Finished'], ['FAILED', 'Failed'],
  ['SUCCESS', 'Success'], ['DECLINED', 'Declined'], ['OPERATOR_REQUIRED', 'Operator required']];
const SORTS = [['time_created{desc}', 'Newest first'], ['time_created{asc}', 'Oldest first'], ['time_updated{desc}', 'Recently updated']];
const LIMITS = [['25', '25'], ['50', '50'], ['100', '100']];
// The list filters kept in the page address (so a filtered list can be bookmarked and shared:
// nothing secret is in it), exactly the API's parameter names.
const KEYS = ['time_created.min', 'time_created.max', 'resolution_status', 'meta_data', 'search_text', 'user_id', 'company_id', 'sorting', 'limit', 'offset'];

async function options(path, label) {
  try {
    const r = await api(path, { query: { limit: 1000, total_omit: 'true' } });
    return (r.items || r).map((x) => [x.user_id || x.company_id, label(x)]);
  } catch (_) {
    return null;
  }
}

async function renderList(main, route) {
  const p = route.params;
  const q = {};
  for (const k of KEYS) if (p.get(k)) q[k] = p.get(k);
  const limit = Number(q.limit) || 25;
  const offset = Math.max(0, Number(q.offset) || 0);

  const [users, companies] = await Promise.all([
    can('all_users') ? options('/api/users/', (u) => u.email) : null,
    can('companies') ? options('/api/companies/', (c) => c.name) : null,
  ]);
  if (!route.isCurrent()) return;

  const inputs = {
    'time_created.min': h('input', { type: 'datetime-local', name: 'time_created.min', value: toLocalInput(q['time_created.min']) }),
    'time_created.max': h('input', { type: 'datetime-local', name: 'time_created.max', value: toLocalInput(q['time_created.max']) }),
    resolution_status: select('resolution_status', STATUSES, q.resolution_status),
    meta_data: h('input', { type: 'text', name: 'meta_data', value: q.meta_data || '', placeholder: 'key==value', spellcheck: 'false' }),
    search_text: h('input', { type: 'search', name: 'search_text', value: q.search_text || '' }),
    sorting: select('sorting', SORTS, q.sorting || 'time_created{desc}'),
    limit: select('limit', LIMITS, String(limit)),
  };
  if (users) inputs.user_id = select('user_id', [['', 'Anyone'], ...users], q.user_id);
  if (companies) inputs.company_id = select('company_id', [['', 'Any company'], ...companies], q.company_id);

  const apply = (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, el] of Object.entries(inputs)) {
      let v = el.value.trim();
      if (k.startsWith('time_created')) v = String(fromLocalInput(v));
      if (v && !(k === 'sorting' && v === 'time_created{desc}') && !(k === 'limit' && v === '25')) next.set(k, v);
    }
    route.go(`#/folders${next.toString() ? `?${next}` : ''}`);
  };
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter folders', onsubmit: apply },
    field('Created from', inputs['time_created.min']),
    field('Created to', inputs['time_created.max']),
    field('Status', inputs.resolution_status),
    field('Metadata', inputs.meta_data, 'key==value or key!=value'),
    field('Search', inputs.search_text, 'folder id, metadata text or creator email'),
    inputs.user_id ? field('User', inputs.user_id) : null,
    inputs.company_id ? field('Company', inputs.company_id) : null,
    field('Sort', inputs.sorting),
    field('Per page', inputs.limit),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, 'Apply'),
      h('a', { href: '#/folders', class: 'btn' }, 'Clear')));

  const results = h('div', { id: 'folder-results', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading…'));
  // Open on a laptop, or when a filter is on; folded on a phone so the list comes first.
  const active = KEYS.some((k) => k !== 'offset' && q[k]);
  const box = h('details', { class: 'card filters-box', open: active || window.matchMedia('(min-width: 721px)').matches },
    h('summary', {}, active ? 'Filters (on)' : 'Filters'), form);
  main.append(title('Folders', can('upload') ? h('a', { class: 'btn', href: '#/try' }, 'New check') : null), box, results);

  let page;
  try {
    page = await api('/api/folders/', { query: { ...q, limit, offset, with_user: 'true', with_company: 'true' } });
  } catch (e) {
    mount(results, errorBox(e));
    return;
  }
  if (!route.isCurrent()) return;
  const goOffset = (o) => {
    const next = new URLSearchParams(p);
    if (o) next.set('offset', String(o)); else next.delete('offset');
    route.go(`#/folders?${next}`);
  };
  const cols = [
    { label: 'Created', cell: (f) => timeEl(f.time_created) },
    { label: 'Folder', cell: (f) => h('a', { href: `#/folders/${encodeURIComponent(f.folder_id)}`, 'aria-label': `Folder ${f.folder_id}` }, shortId(f.folder_id)) },
    { label: 'Status', cell: (f) => badge(f.resolution_status) },
    { label: 'Result', cell: (f) => badge(f.system_resolution) },
    { label: 'Operator', cell: (f) => badge(f.operator_status) },
    { label: 'Media', class: 'num', cell: (f) => String((f.media || []).filter((m) => m.media_type !== 'IMAGE_RESULT_ANALYSIS_SINGLE').length) },
    { label: 'User', cell: (f) => (f.user ? f.user.email : '—') },
  ];
  if (session().user_type === 'ADMIN' || session().user_type === 'OPERATOR') {
    cols.push({ label: 'Company', cell: (f) => (f.company ? f.company.name : '—') });
  }
  // No filter on and nothing listed: the company has no folders yet (not "no match").
  const empty = active ? 'No folder matches these filters.' : 'No folders yet. Start a check with "New check", or upload through the API.';
  mount(results,
    table(cols, page.items, { caption: 'Folders', empty }),
    pager({ total: page.total, offset: page.offset ?? offset, limit: page.limit ?? limit }, goOffset));
}
