// Blacklist (1:N) collections: #/collections lists them, #/collections/<id> shows one collection
// with its persons and their face photos, and searches a photo against it with a COLLECTION
// analysis (a single request: POST /api/folders/ with the photo and the analysis in its payload).

import { api, can, session, fileUrl } from '../api.js';
import {
  h, mount, title, timeEl, shortId, table, pager, field, select, errorBox, toast, section, busy, badge, num,
} from '../ui.js';

const PAGE_SIZE = 20;
const IMAGE_TYPES = 'image/jpeg,image/png';

export async function render(main, route) {
  if (route.parts[1]) return renderCollection(main, route, route.parts[1]);
  return renderList(main, route);
}

// ---- helpers ------------------------------------------------------------------------------

/** Company names by id, as far as the caller may read them (GET /api/companies/{id}/); the
 * id stands in for a company it cannot read. */
async function companyNames(ids) {
  const names = new Map();
  await Promise.all([...new Set(ids.filter(Boolean))].map(async (id) => {
    try {
      const c = await api(`/api/companies/${encodeURIComponent(id)}/`);
      names.set(id, c.name);
    } catch (e) {
      if (e.status === 401) throw e;
    }
  }));
  return names;
}

function companyCell(names, id) {
  if (!id) return h('span', { class: 'muted' }, '—');
  return names.has(id) ? h('span', { title: id }, names.get(id)) : shortId(id);
}

/** "First Middle Last" from a person's meta_data.person_info; '' when there is none. */
export function personName(p) {
  const info = (p && p.meta_data && p.meta_data.person_info) || {};
  return [info.first_name, info.middle_name, info.last_name]
    .filter((x) => typeof x === 'string' && x.trim()).map((x) => x.trim()).join(' ');
}

function displayName(p) {
  return personName(p) || 'Unnamed person';
}

/** The chosen files as multipart parts photo1, photo2, ... plus the JSON payload part. */
function photoForm(files, payload) {
  const form = new FormData();
  files.forEach((f, i) => form.append(`photo${i + 1}`, f, f.name));
  if (payload) form.append('payload', JSON.stringify(payload));
  return form;
}

/** Names the file the API refused (details.key is its part name, photoN). */
function withFileName(e, files) {
  const m = /^photo(\d+)$/.exec((e && e.details && e.details.key) || '');
  const f = m ? files[Number(m[1]) - 1] : null;
  if (!f) return e;
  return { message: `${f.name}: ${e.message}`, code: e.code };
}

function fileInput(multiple) {
  return h('input', { type: 'file', accept: IMAGE_TYPES, multiple, required: true });
}

// ---- #/collections ----------------------------------------------------------------------------

async function renderList(main, route) {
  const companyFilter = route.params.get('company_id') || '';
  const seesCompanies = can('companies'); // ADMIN, OPERATOR: every company
  const [collections, companies] = await Promise.all([
    api('/api/collections/', { query: { company_id: companyFilter } }),
    seesCompanies ? api('/api/companies/', { query: { limit: 1000, total_omit: true } }) : null,
  ]);
  const names = new Map((companies ? companies.items : []).map((c) => [c.company_id, c.name]));
  const missing = collections.map((c) => c.company_id).filter((id) => id && !names.has(id));
  for (const [k, v] of await companyNames(missing)) names.set(k, v);
  if (!route.isCurrent()) return;

  const parts = [title('Blacklist collections')];
  parts.push(h('p', { class: 'muted' },
    'A collection holds persons and their face photos. A COLLECTION analysis searches a photo or video against it (1:N).'));


  if (seesCompanies && companies) {
    const filter = select('company_id', [['', 'All companies'], ...companies.items.map((c) => [c.company_id, c.name])], companyFilter);
    parts.push(h('form', {
      class: 'inline-filters', 'aria-label': 'Filter collections',
      onsubmit: (ev) => {
        ev.preventDefault();
        route.go(`#/collections${filter.value ? `?company_id=${encodeURIComponent(filter.value)}` : ''}`);
      },
    }, field('Filter by company', filter), h('div', { class: 'field' }, h('button', { type: 'submit', class: 'btn' }, 'Filter'))));
  }

  const manage = (c) => can('manage_collections') && (session().user_type === 'ADMIN' || c.company_id === session().company_id);
  const errors = h('div');
  parts.push(errors);
  parts.push(table([
    { label: 'Alias', cell: (c) => h('a', { href: `#/collections/${encodeURIComponent(c.collection_id)}` }, c.alias) },
    { label: 'Company', cell: (c) => companyCell(names, c.company_id) },
    { label: 'Created', cell: (c) => timeEl(c.time_created) },
    { label: 'Id', cell: (c) => shortId(c.collection_id) },
    {
      label: 'Actions',
      cell: (c) => (manage(c) ? h('span', {}, h('button', {
        type: 'button', class: 'btn danger', 'aria-label': `Delete collection ${c.alias}`,
        onclick: (ev) => {
          if (!window.confirm(`Delete the collection "${c.alias}" with all its persons and photos?`)) return;
          busy(ev.currentTarget, async () => {
            await api(`/api/collections/${encodeURIComponent(c.collection_id)}/`, { method: 'DELETE' });
            toast(`Collection "${c.alias}" deleted.`);
            route.go(location.hash);
          }, errors);
        },
      }, 'Delete')) : h('span', { class: 'muted' }, '—')),
    },
  ], collections, { caption: 'Collections', empty: 'No collection yet.' }));
  if (can('manage_collections')) parts.push(createForm(route, companies ? companies.items : null));

  mount(main, ...parts);
}

function createForm(route, companies) {
  const alias = h('input', { type: 'text', name: 'alias', required: true, maxlength: '255', value: 'blacklist' });
  const isAdmin = session().user_type === 'ADMIN';
  const company = isAdmin && companies
    ? select('company_id', [['', 'Choose a company'], ...companies.map((c) => [c.company_id, c.name])], '')
    : null;
  if (company) company.required = true;
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create collection');
  return section('New collection', h('form', {
    class: 'bl-create',
    onsubmit: (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const json = { alias: alias.value.trim() };
        if (company) json.company_id = company.value;
        const c = await api('/api/collections/', { json });
        toast(`Collection "${c.alias}" created.`);
        route.go(`#/collections/${encodeURIComponent(c.collection_id)}`);
      }, msg);
    },
  },
  h('div', { class: 'filters form-top' },
    field('Alias', alias, 'Unique in its company; Oz SDKs look up "blacklist".'),
    company ? field('Company', company) : null),
  msg,
  h('div', { class: 'actions' }, submit)));
}

// ---- #/collections/<id> -----------------------------------------------------------------------

async function renderCollection(main, route, id) {
  const base = `/api/collections/${encodeURIComponent(id)}`;
  const c = await api(`${base}/`);
  const names = await companyNames([c.company_id]);
  if (!route.isCurrent()) return;
  const manage = can('manage_collections') && (session().user_type === 'ADMIN' || c.company_id === session().company_id);
  const offset = Math.max(0, Number(route.params.get('offset')) || 0);

  const personsBox = h('div', { class: 'bl-persons' }, h('p', { class: 'muted' }, 'Loading persons…'));
  const personsTitle = h('h2', { id: 'bl-persons-title' }, 'Persons');
  const reloadPersons = () => loadPersons(route, c, personsBox, personsTitle, offset, manage);

  mount(main,
    h('p', {}, h('a', { href: '#/collections' }, '← All collections')),
    title(`Collection “${c.alias}”`),
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, c.collection_id)),
      h('dt', {}, 'Company'), h('dd', {}, companyCell(names, c.company_id)),
      h('dt', {}, 'Created'), h('dd', {}, timeEl(c.time_created)))),
    searchSection(c),
    manage ? addPersonSection(c, reloadPersons) : null,
    h('section', { class: 'card', 'aria-labelledby': 'bl-persons-title' }, personsTitle, personsBox));
  await reloadPersons();
}

async function loadPersons(route, c, box, heading, offset, manage) {
  const base = `/api/collections/${encodeURIComponent(c.collection_id)}`;
  const page = await api(`${base}/persons/`, { query: { offset, limit: PAGE_SIZE } });
  if (!route.isCurrent()) return;
  heading.textContent = `Persons (${page.total ?? page.items.length})`;
  const reload = () => loadPersons(route, c, box, heading, offset, manage);
  const go = (o) => route.go(`#/collections/${encodeURIComponent(c.collection_id)}${o ? `?offset=${o}` : ''}`);
  if (page.items.length === 0) {
    mount(box, h('p', { class: 'empty muted' }, offset > 0 ? 'No persons on this page.' : 'No person in this collection yet.'),
      offset > 0 ? pager(page, go) : null);
    return;
  }
  mount(box,
    h('ul', { class: 'bl-person-list' }, page.items.map((p) => personCard(c, p, manage, reload))),
    pager(page, go));
}

function personCard(c, p, manage, reload) {
  const name = displayName(p);
  const base = `/api/collections/${encodeURIComponent(c.collection_id)}/persons/${encodeURIComponent(p.person_id)}`;
  const msg = h('div');
  const photos = h('ul', { class: 'bl-photos', 'aria-label': `Photos of ${name}` }, (p.images || []).map((img, i) => h('li', {},
    h('img', { class: 'bl-photo', src: fileUrl(img.original_url), alt: `Photo ${i + 1} of ${name}`, loading: 'lazy' }),
    manage ? h('button', {
      type: 'button', class: 'btn link danger', 'aria-label': `Remove photo ${i + 1} of ${name}`,
      onclick: (ev) => {
        if (!window.confirm(`Remove this photo of ${name}?`)) return;
        busy(ev.currentTarget, async () => {
          await api(`${base}/images/${encodeURIComponent(img.image_id)}/`, { method: 'DELETE' });
          toast('Photo removed.');
          await reload();
        }, msg);
      },
    }, 'Remove') : null)));

  let tools = null;
  if (manage) {
    const file = fileInput(true);
    const add = h('button', { type: 'submit', class: 'btn' }, 'Add photo');
    tools = h('div', { class: 'bl-person-tools' },
      h('form', {
        class: 'bl-add-photo',
        onsubmit: (ev) => {
          ev.preventDefault();
          const files = [...file.files];
          busy(add, async () => {
            try {
              await api(`${base}/images/`, { form: photoForm(files) });
            } catch (e) {
              throw withFileName(e, files);
            }
            toast(`Photo added to ${name}.`);
            await reload();
          }, msg);
        },
      }, field(`New photo of ${name}`, file), add),
      h('button', {
        type: 'button', class: 'btn danger', 'aria-label': `Remove person ${name}`,
        onclick: (ev) => {
          if (!window.confirm(`Remove ${name} and all their photos from the collection?`)) return;
          busy(ev.currentTarget, async () => {
            await api(`${base}/`, { method: 'DELETE' });
            toast(`${name} removed.`);
            await reload();
          }, msg);
        },
      }, 'Remove person'));
  }
  return h('li', { class: 'bl-person card', dataset: { personId: p.person_id } },
    h('h3', {}, name),
    h('p', { class: 'muted bl-meta' }, 'Id ', shortId(p.person_id), ' · added ', timeEl(p.time_created)),
    photos.children.length ? photos : h('p', { class: 'muted' }, 'No photo.'),
    msg,
    tools);
}

function addPersonSection(c, reload) {
  const files = fileInput(true);
  const first = h('input', { type: 'text', name: 'first_name', autocomplete: 'off' });
  const middle = h('input', { type: 'text', name: 'middle_name', autocomplete: 'off' });
  const last = h('input', { type: 'text', name: 'last_name', autocomplete: 'off' });
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Add person');
  const form = h('form', {
    class: 'bl-add-person',
    onsubmit: (ev) => {
      ev.preventDefault();
      const chosen = [...files.files];
      const info = {};
      for (const [k, el] of [['first_name', first], ['middle_name', middle], ['last_name', last]]) {
        if (el.value.trim()) info[k] = el.value.trim();
      }
      busy(submit, async () => {
        let p;
        try {
          p = await api(`/api/collections/${encodeURIComponent(c.collection_id)}/persons/`, {
            form: photoForm(chosen, { 'person:meta_data': { person_info: info } }),
          });
        } catch (e) {
          throw withFileName(e, chosen);
        }
        form.reset();
        toast(`${displayName(p)} added with ${(p.images || []).length} photo(s).`);
        await reload();
      }, msg);
    },
  },
  field('Face photos', files, 'JPEG or PNG, one person in each; several photos of the same person are welcome.'),
  h('div', { class: 'filters form-top' },
    field('First name', first),
    field('Middle name', middle),
    field('Last name', last)),
  msg,
  h('div', { class: 'actions' }, submit));
  return section('Add a person', form);
}

// ---- search -----------------------------------------------------------------------------------

function searchSection(c) {
  if (!can('upload')) {
    return section('Search a photo against this collection',
      h('p', { class: 'muted' }, `Your role (${session().user_type}) cannot upload photos, so it cannot search. `
        + 'ADMIN and CLIENT users can.'));
  }
  const file = fileInput(false);
  const msg = h('div');
  const result = h('div', { class: 'bl-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Search');
  const form = h('form', {
    class: 'bl-search',
    onsubmit: (ev) => {
      ev.preventDefault();
      const chosen = [...file.files];
      busy(submit, async () => {
        mount(result, h('p', { class: 'muted' }, 'Searching…'));
        try {
          const folder = await api('/api/folders/', {
            form: photoForm(chosen, { analyses: [{ type: 'COLLECTION', params: { collection_id: c.collection_id } }] }),
          });
          await showResult(result, c, folder);
        } catch (e) {
          mount(result);
          throw withFileName(e, chosen);
        }
      }, msg);
    },
  },
  h('p', { class: 'muted' },
    'Uploads the photo as a new folder and runs a COLLECTION analysis on it over this collection only.'),
  field('Photo to search', file, 'JPEG or PNG with one face.'),
  h('div', { class: 'actions' }, submit),
  msg);
  return section('Search a photo against this collection', form, result);
}

async function showResult(box, c, folder) {
  const a = (folder.analyses || []).find((x) => String(x.type).toUpperCase() === 'COLLECTION');
  const folderLink = h('a', { href: `#/folders/${encodeURIComponent(folder.folder_id)}` }, 'Open the folder');
  const media = (folder.media || [])[0];
  const searched = media && fileUrl(media.thumb_url || media.original_url)
    ? h('img', { class: 'bl-searched', src: fileUrl(media.thumb_url || media.original_url), alt: 'The searched photo' })
    : null;
  if (!a) {
    mount(box, errorBox({ message: 'The answer holds no COLLECTION analysis.' }), h('p', {}, folderLink));
    return;
  }
  if (a.state === 'FAILED' || a.error_message) {
    mount(box, h('h3', {}, 'Result'),
      errorBox({ message: a.error_message || 'The analysis failed.', code: a.error_code ?? undefined }),
      h('p', {}, folderLink));
    return;
  }
  if (a.state !== 'FINISHED') {
    mount(box, h('h3', {}, 'Result'),
      h('p', {}, 'The analysis is still ', badge(a.state), '. ', folderLink, ' to see it finish.'));
    return;
  }
  const hits = [];
  const seen = new Set();
  for (const rm of a.results_media || []) {
    for (const m of rm.collection_persons || []) {
      if (seen.has(m.person_id)) continue;
      seen.add(m.person_id);
      hits.push(m);
    }
  }
  hits.sort((x, y) => y.confidence - x.confidence);
  const details = await Promise.all(hits.map(async (m) => {
    const pbase = `/api/collections/${encodeURIComponent(m.collection_id || c.collection_id)}/persons/${encodeURIComponent(m.person_id)}`;
    const [person, image] = await Promise.all([
      api(`${pbase}/`).catch((e) => { if (e.status === 401) throw e; return null; }),
      api(`${pbase}/images/${encodeURIComponent(m.image_id)}/`).catch((e) => { if (e.status === 401) throw e; return null; }),
    ]);
    return { m, person, image };
  }));
  const threshold = a.confs && a.confs.decision_threshold;
  const summary = hits.length
    ? `Found ${hits.length} ${hits.length === 1 ? 'person' : 'persons'} of this collection in the photo.`
    : 'Nobody in this collection matches this photo.';
  mount(box,
    h('h3', {}, 'Result'),
    h('div', { class: 'bl-result-head' },
      searched,
      h('div', {},
        h('p', { class: 'bl-summary' }, summary),
        h('p', {}, 'Analysis ', badge(a.resolution_status || a.resolution),
          h('span', { class: 'muted' }, hits.length ? ' (a match declines it)' : ' (no match)')),
        threshold !== undefined ? h('p', { class: 'muted' }, `Match threshold: ${num(threshold, 2)} (confidence at or above it is a match).`) : null,
        h('p', {}, folderLink, ' ', h('span', { class: 'muted' }, '(folder '), shortId(folder.folder_id), h('span', { class: 'muted' }, ')')))),
    hits.length ? h('ul', { class: 'bl-matches', 'aria-label': 'Matches' }, details.map(({ m, person, image }) => {
      const name = person ? displayName(person) : 'A person no longer in the collection';
      const src = image && fileUrl(image.original_url);
      // A hit is a warning (the person is on a watch list): drawn in the warning colours, the
      // meter red past the match threshold.
      const high = threshold !== undefined ? Number(threshold) : 0.85;
      return h('li', { class: 'bl-match card warn' },
        src ? h('img', { class: 'bl-photo', src, alt: `Matched photo of ${name}` }) : h('div', { class: 'bl-photo bl-nophoto' }, 'No photo'),
        h('div', {},
          h('p', { class: 'bl-flag' }, 'On this list'),
          h('p', { class: 'bl-match-name' }, name),
          h('p', { class: 'score' }, 'Confidence ', h('strong', {}, num(m.confidence, 3)), h('span', { class: 'muted' }, ` (a match from ${num(high, 2)})`)),
          h('meter', { class: 'bl-meter', min: '0', max: '1', optimum: '0', low: String(high / 2), high: String(high), value: Number(m.confidence), 'aria-label': `Confidence ${num(m.confidence, 3)}` }),
          h('p', { class: 'muted bl-meta' }, 'Person ', shortId(m.person_id))));
    })) : null);
}
