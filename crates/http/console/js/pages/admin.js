// Companies and users: #/companies, #/companies/<id> (rename, delete, webhook signing secret),
// #/users (filters, paging, create) and #/users/<id> (role, password, sessions, delete).
// The API scopes every list: a CLIENT ADMIN sees only its own company and its users.

import { api, can, session, qs, logout } from '../api.js';
import {
  h, mount, title, timeEl, shortId, table, pager, field, select, toast, section, busy, kv,
} from '../ui.js';

const PAGE_SIZE = 50;
const ALL_TYPES = ['ADMIN', 'OPERATOR', 'CLIENT', 'CLIENT_OPERATOR'];
const CLIENT_TYPES = ['CLIENT', 'CLIENT_OPERATOR'];

export async function render(main, route) {
  const id = route.parts[1];
  if (route.name === 'companies') return id ? renderCompany(main, route, id) : renderCompanies(main, route);
  return id ? renderUser(main, route, id) : renderUsers(main, route);
}

// ---- helpers ------------------------------------------------------------------------------

const isAdmin = () => session().user_type === 'ADMIN';

/** The company admin (CLIENT with is_admin). */
const isCompanyAdmin = () => session().user_type === 'CLIENT' && !!session().is_admin;

/** May rename the company and manage its webhook secret (the API's can_manage_company). */
function managesCompany(companyId) {
  return isAdmin() || (isCompanyAdmin() && companyId === session().company_id);
}

/** May change or delete this user (the API's can_manage_user, for the user's current role). */
function managesUser(u) {
  if (isAdmin()) return true;
  return isCompanyAdmin() && CLIENT_TYPES.includes(u.user_type) && u.company_id === session().company_id;
}

/** The user types the caller may give. */
function assignableTypes() {
  return isAdmin() ? ALL_TYPES : CLIENT_TYPES;
}

function roleLabel(u) {
  let r = u.user_type;
  if (r === 'CLIENT' && u.is_admin) r = 'CLIENT ADMIN';
  if (u.is_service) r += ' (service)';
  return r;
}

function fullName(u) {
  return [u.first_name, u.middle_name, u.last_name].filter((x) => x && String(x).trim()).join(' ');
}

/** Every company the caller may list (id → name); an ADMIN / OPERATOR sees all of them. */
async function companyMap() {
  const page = await api('/api/companies/', { query: { limit: 1000, total_omit: true } });
  return new Map(page.items.map((c) => [c.company_id, c.name]));
}

function companyLink(names, id) {
  if (!id) return h('span', { class: 'muted' }, '—');
  const label = names.get(id);
  return h('a', { href: `#/companies/${encodeURIComponent(id)}`, title: id }, label || String(id).slice(0, 8));
}

function checkbox(label, checked, hint) {
  const input = h('input', { type: 'checkbox', checked });
  const f = field(label, input, hint);
  f.classList.add('adm-check');
  return { input, field: f };
}

function offsetOf(route) {
  return Math.max(0, Number(route.params.get('offset')) || 0);
}

// ---- #/companies ----------------------------------------------------------------------------

async function renderCompanies(main, route) {
  const offset = offsetOf(route);
  const search = route.params.get('search_text') || '';
  const page = await api('/api/companies/', { query: { offset, limit: PAGE_SIZE, search_text: search } });
  if (!route.isCurrent()) return;

  const parts = [title('Companies')];

  const text = h('input', { type: 'search', name: 'search_text', value: search });
  parts.push(h('form', {
    class: 'inline-filters', role: 'search', 'aria-label': 'Find companies',
    onsubmit: (ev) => {
      ev.preventDefault();
      route.go(`#/companies${qs({ search_text: text.value.trim() })}`);
    },
  }, field('Name contains', text), h('div', { class: 'field' }, h('button', { type: 'submit', class: 'btn' }, 'Find'))));

  parts.push(table([
    { label: 'Name', cell: (c) => h('a', { href: `#/companies/${encodeURIComponent(c.company_id)}` }, c.name) },
    { label: 'Created', cell: (c) => timeEl(c.time_created) },
    { label: 'Id', cell: (c) => shortId(c.company_id) },
  ], page.items, { caption: 'Companies', empty: search ? 'No company matches.' : 'No company yet.' }));
  parts.push(pager(page, (o) => route.go(`#/companies${qs({ search_text: search, offset: o || '' })}`)));
  if (isAdmin()) parts.push(createCompanySection(route));
  mount(main, ...parts);
}

function createCompanySection(route) {
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'organization' });
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create company');
  return section('New company', h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const c = await api('/api/companies/', { json: { name: name.value.trim() } });
        toast(`Company "${c.name}" created.`);
        route.go(`#/companies/${encodeURIComponent(c.company_id)}`);
      }, msg);
    },
  }, h('div', { class: 'filters form-top' }, field('Company name', name)), msg, h('div', { class: 'actions' }, submit)));
}

// ---- #/companies/<id> -----------------------------------------------------------------------

async function renderCompany(main, route, id) {
  const path = `/api/companies/${encodeURIComponent(id)}/`;
  const c = await api(path);
  const manage = managesCompany(c.company_id);
  const secret = manage ? await api(`${path}webhook_secret/`) : null;
  if (!route.isCurrent()) return;

  const parts = [
    h('p', {}, h('a', { href: '#/companies' }, '← All companies')),
    title(c.name),
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, c.company_id)),
      h('dt', {}, 'Created'), h('dd', {}, timeEl(c.time_created)),
      h('dt', {}, 'Users'), h('dd', {}, h('a', { href: `#/users${qs({ company_id: c.company_id })}` }, 'Users of this company')),
      h('dt', {}, 'Collections'), h('dd', {}, h('a', { href: `#/collections${qs({ company_id: c.company_id })}` }, 'Blacklist collections')))),
  ];
  if (c.meta_data && Object.keys(c.meta_data).length) parts.push(section('Metadata', kv(c.meta_data)));
  if (manage) {
    parts.push(renameSection(route, c));
    parts.push(secretSection(c, secret));
  } else {
    parts.push(h('p', { class: 'muted' }, 'Only ADMIN and the company\'s own admin can change this company.'));
  }
  if (isAdmin()) parts.push(deleteCompanySection(route, c));
  mount(main, ...parts);
}

function renameSection(route, c) {
  const name = h('input', { type: 'text', name: 'name', required: true, value: c.name });
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Rename');
  return section('Name', h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        await api(`/api/companies/${encodeURIComponent(c.company_id)}/`, { method: 'PATCH', json: { name: name.value.trim() } });
        toast('Company renamed.');
        route.go(location.hash);
      }, msg);
    },
  }, h('div', { class: 'filters form-top' }, field('Company name', name)), msg, h('div', { class: 'actions' }, submit)));
}

function secretSection(c, initial) {
  const path = `/api/companies/${encodeURIComponent(c.company_id)}/webhook_secret/`;
  const state = h('p', { class: 'adm-secret-state' });
  const shown = h('div', { class: 'adm-secret-once' });
  const msg = h('div');
  const rotate = h('button', { type: 'button', class: 'btn primary' });
  const remove = h('button', { type: 'button', class: 'btn danger' }, 'Remove secret');
  let status = initial;

  const paint = () => {
    state.replaceChildren(
      h('strong', {}, status.is_set ? 'Set' : 'Not set'),
      status.is_set
        ? h('span', {}, ' — last changed ', timeEl(status.time_updated), '.')
        : h('span', {}, ' — webhooks of this company are signed with the server\'s OZ_WEBHOOK_SECRET, if it has one.'));
    rotate.textContent = status.is_set ? 'Rotate secret' : 'Create secret';
    remove.hidden = !status.is_set;
  };
  const refresh = async () => {
    status = await api(path);
    paint();
  };

  rotate.addEventListener('click', () => {
    if (status.is_set && !window.confirm('Make a new secret? The current one stops working at once: update your webhook receiver.')) return;
    busy(rotate, async () => {
      const r = await api(path, { method: 'POST' });
      // Shown once, in this page only: never stored by the console.
      const value = h('input', { type: 'text', readonly: true, value: r.webhook_secret, class: 'adm-secret', spellcheck: 'false', autocomplete: 'off' });
      const copy = h('button', {
        type: 'button', class: 'btn',
        onclick: async () => {
          value.select();
          try {
            await navigator.clipboard.writeText(value.value);
            toast('Copied.');
          } catch (_) {
            toast('Select the text and copy it with your keyboard.');
          }
        },
      }, 'Copy');
      mount(shown, h('div', { class: 'alert info', role: 'status' },
        h('p', {}, h('strong', {}, 'Copy this secret now: '), 'it is shown only once and cannot be read again. Leaving or reloading the page hides it.'),
        h('div', { class: 'adm-secret-row' }, field('New webhook secret', value), copy)));
      await refresh();
      value.focus();
      value.select();
    }, msg);
  });
  remove.addEventListener('click', () => {
    if (!window.confirm('Remove the company\'s webhook secret?')) return;
    busy(remove, async () => {
      await api(path, { method: 'DELETE' });
      shown.replaceChildren();
      toast('Webhook secret removed.');
      await refresh();
    }, msg);
  });
  paint();
  return section('Webhook signing secret',
    h('p', { class: 'muted' }, 'Webhook deliveries carry X-Oz-Signature, an HMAC-SHA256 with this secret.'),
    state, shown, msg, h('div', { class: 'actions' }, rotate, remove));
}

function deleteCompanySection(route, c) {
  const msg = h('div');
  const del = h('button', {
    type: 'button', class: 'btn danger',
    onclick: () => {
      if (!window.confirm(`Delete the company "${c.name}" with its users and collections?`)) return;
      const path = `/api/companies/${encodeURIComponent(c.company_id)}/`;
      busy(del, async () => {
        try {
          await api(path, { method: 'DELETE' });
        } catch (e) {
          if (e.status !== 409) throw e;
          // The company still has folders: the API refuses without force.
          if (!window.confirm(`"${c.name}" has folders. Delete it anyway with all its folders, media, analyses and files? This cannot be undone.`)) return;
          await api(path, { method: 'DELETE', query: { force: true } });
        }
        toast(`Company "${c.name}" deleted.`);
        route.go('#/companies');
      }, msg);
    },
  }, 'Delete company');
  return section('Delete',
    h('p', { class: 'muted' }, 'Deletes the company with its users and its blacklist collections. A company with folders asks a second time: its folders, media and analyses go with it.'),
    msg, h('div', { class: 'actions' }, del));
}

// ---- #/users --------------------------------------------------------------------------------

async function renderUsers(main, route) {
  const offset = offsetOf(route);
  const search = route.params.get('search_text') || '';
  const companyId = route.params.get('company_id') || '';
  const s = session();
  const [page, names] = await Promise.all([
    api('/api/users/', { query: { offset, limit: PAGE_SIZE, search_text: search, company_id: companyId } }),
    companyMap(),
  ]);
  if (!route.isCurrent()) return;

  const parts = [title('Users')];

  const text = h('input', { type: 'search', name: 'search_text', value: search });
  const filterFields = [field('Email or name contains', text)];
  let company = null;
  if (can('companies')) {
    company = select('company_id', [['', 'All companies'], ...[...names].map(([id, n]) => [id, n])], companyId);
    filterFields.push(field('Filter by company', company));
  }
  parts.push(h('form', {
    class: 'inline-filters', role: 'search', 'aria-label': 'Find users',
    onsubmit: (ev) => {
      ev.preventDefault();
      route.go(`#/users${qs({ search_text: text.value.trim(), company_id: company ? company.value : companyId })}`);
    },
  }, ...filterFields, h('div', { class: 'field' }, h('button', { type: 'submit', class: 'btn' }, 'Find'))));
  if (companyId && !company) {
    parts.push(h('p', {}, 'Users of ', companyLink(names, companyId), '. ', h('a', { href: '#/users' }, 'All users')));
  }

  parts.push(table([
    { label: 'Email', cell: (u) => h('a', { href: `#/users/${encodeURIComponent(u.user_id)}` }, u.email) },
    { label: 'Name', cell: (u) => fullName(u) || h('span', { class: 'muted' }, '—') },
    { label: 'Role', cell: (u) => h('span', {}, h('span', { class: 'badge plain' }, roleLabel(u))) },
    { label: 'Company', cell: (u) => companyLink(names, u.company_id) },
    { label: 'Id', cell: (u) => shortId(u.user_id) },
  ], page.items, {
    caption: 'Users',
    empty: search || companyId ? 'No user matches.' : 'No user.',
    rowAttrs: (u) => (u.user_id === s.user_id ? { class: 'adm-self' } : {}),
  }));
  parts.push(pager(page, (o) => route.go(`#/users${qs({ search_text: search, company_id: companyId, offset: o || '' })}`)));
  if (can('admin')) parts.push(createUserSection(route, names));
  mount(main, ...parts);
}

/**
 * The role controls of the user forms: the role, "company admin" (CLIENT only, kept in step with
 * the role) and, when `companies` (id → name) is given, the company.
 */
function roleControls(userType, isCompanyAdmin, hint, companies, companyId) {
  const type = select('user_type', assignableTypes().map((t) => [t, t]), userType);
  const admin = checkbox('Company admin', isCompanyAdmin, hint);
  const company = companies
    ? select('company_id', [['', 'No company'], ...[...companies].map(([id, n]) => [id, n])], companyId || '')
    : null;
  const syncAdmin = () => {
    admin.input.disabled = type.value !== 'CLIENT';
    if (admin.input.disabled) admin.input.checked = false;
  };
  type.addEventListener('change', syncAdmin);
  syncAdmin();
  return { type, admin, company };
}

function createUserSection(route, names) {
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
  const password = h('input', { type: 'password', name: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const first = h('input', { type: 'text', name: 'first_name', autocomplete: 'off' });
  const last = h('input', { type: 'text', name: 'last_name', autocomplete: 'off' });
  const { type, admin, company } = roleControls('CLIENT', false, 'A CLIENT user who manages its company\'s users and collections.',
    isAdmin() ? names : null, route.params.get('company_id'));
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create user');
  return section('New user', h('form', {
    autocomplete: 'off',
    onsubmit: (ev) => {
      ev.preventDefault();
      const json = {
        email: email.value.trim(),
        password: password.value,
        user_type: type.value,
        is_admin: admin.input.checked,
      };
      if (first.value.trim()) json.first_name = first.value.trim();
      if (last.value.trim()) json.last_name = last.value.trim();
      if (company && company.value) json.company_id = company.value;
      busy(submit, async () => {
        const u = await api('/api/users/', { json });
        toast(`User ${u.email} created.`);
        route.go(`#/users/${encodeURIComponent(u.user_id)}`);
      }, msg);
    },
  },
  h('div', { class: 'filters form-top' },
    field('Email', email),
    field('Password', password, 'At least 8 characters.'),
    field('First name', first),
    field('Last name', last),
    field('Role', type),
    company ? field('Company', company, 'Required for CLIENT and CLIENT_OPERATOR.') : null,
    admin.field),
  msg,
  h('div', { class: 'actions' }, submit)));
}

// ---- #/users/<id> ---------------------------------------------------------------------------

async function renderUser(main, route, id) {
  const path = `/api/users/${encodeURIComponent(id)}/`;
  const u = await api(path);
  let names = new Map();
  if (u.company_id) {
    try {
      const c = await api(`/api/companies/${encodeURIComponent(u.company_id)}/`);
      names = new Map([[c.company_id, c.name]]);
    } catch (e) {
      if (e.status === 401) throw e;
    }
  }
  const companies = isAdmin() ? await companyMap() : null;
  if (!route.isCurrent()) return;
  const self = u.user_id === session().user_id;
  const manage = managesUser(u);

  const parts = [
    h('p', {}, h('a', { href: '#/users' }, '← All users')),
    title(u.email, h('span', { class: 'badge plain' }, roleLabel(u))),
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, u.user_id)),
      h('dt', {}, 'Name'), h('dd', {}, fullName(u) || '—'),
      h('dt', {}, 'Role'), h('dd', {}, roleLabel(u)),
      h('dt', {}, 'Company'), h('dd', {}, companyLink(names, u.company_id)),
      h('dt', {}, 'May start'), h('dd', {}, [
        u.can_start_analysis_quality ? 'QUALITY' : null,
        u.can_start_analysis_biometry ? 'BIOMETRY' : null,
        u.can_start_analysis_collection ? 'COLLECTION' : null,
      ].filter(Boolean).join(', ') || 'no analysis'))),
  ];
  if (u.meta_data && Object.keys(u.meta_data).length) parts.push(section('Metadata', kv(u.meta_data)));
  if (manage && !self) parts.push(roleSection(route, u, companies));
  if (manage || self) parts.push(passwordSection(u, self));
  if (manage || self) parts.push(sessionsSection(u, self));
  if (manage && !self) parts.push(deleteUserSection(route, u));
  if (!manage && !self) parts.push(h('p', { class: 'muted' }, 'You can see this user; changing it needs ADMIN or its company\'s admin.'));
  mount(main, ...parts);
}

function roleSection(route, u, companies) {
  const { type, admin, company } = roleControls(u.user_type, u.is_admin, 'CLIENT users only.', companies, u.company_id);
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn' }, 'Save role');
  return section('Change role', h('form', {
    onsubmit: (ev) => {
      ev.preventDefault();
      const json = { user_type: type.value, is_admin: admin.input.checked };
      if (company && (company.value || null) !== (u.company_id || null)) json.company_id = company.value || null;
      busy(submit, async () => {
        await api(`/api/users/${encodeURIComponent(u.user_id)}/`, { method: 'PATCH', json });
        toast('Role saved.');
        route.go(location.hash);
      }, msg);
    },
  }, h('div', { class: 'filters form-top' }, field('Role', type), company ? field('Company', company) : null, admin.field),
  msg, h('div', { class: 'actions' }, submit)));
}

function passwordSection(u, self) {
  const current = self ? h('input', { type: 'password', name: 'current_password', required: true, autocomplete: 'current-password' }) : null;
  const pw = h('input', { type: 'password', name: 'password', required: true, minlength: '8', autocomplete: 'new-password' });
  const msg = h('div');
  const submit = h('button', { type: 'submit', class: 'btn' }, self ? 'Change password' : 'Reset password');
  const form = h('form', {
    autocomplete: 'off',
    onsubmit: (ev) => {
      ev.preventDefault();
      const json = { password: pw.value };
      if (current) json.current_password = current.value;
      busy(submit, async () => {
        await api(`/api/users/${encodeURIComponent(u.user_id)}/`, { method: 'PATCH', json });
        form.reset();
        toast(self ? 'Password changed; your other sessions have ended.' : `Password of ${u.email} reset; their sessions have ended.`);
      }, msg);
    },
  },
  h('p', { class: 'muted' }, self
    ? 'Your other sessions end; this one goes on.'
    : 'Sets a new password and ends every session of this user.'),
  h('div', { class: 'filters form-top' },
    current ? field('Current password', current) : null,
    field('New password', pw, 'At least 8 characters.')),
  msg, h('div', { class: 'actions' }, submit));
  return section('Password', form);
}

function sessionsSection(u, self) {
  const msg = h('div');
  const btn = h('button', {
    type: 'button', class: 'btn danger',
    onclick: () => {
      const q = self ? 'End all your sessions, this one included?' : `End every session of ${u.email}? They must log in again.`;
      if (!window.confirm(q)) return;
      busy(btn, async () => {
        await api(`/api/users/${encodeURIComponent(u.user_id)}/sessions/`, { method: 'DELETE', noExpire: self });
        if (self) {
          // This token is gone too: the next call would answer 401; go to the login page now.
          await logout();
          sessionStorage.setItem('openoz.notice', 'You ended all your sessions. Please log in again.');
          location.replace('#/login');
          return;
        }
        toast(`Every session of ${u.email} has ended.`);
      }, msg);
    },
  }, self ? 'Log out everywhere' : 'End all sessions');
  return section('Sessions',
    h('p', { class: 'muted' }, self ? 'Ends every login of yours, on every device.' : 'Logs this user out on every device.'),
    msg, h('div', { class: 'actions' }, btn));
}

function deleteUserSection(route, u) {
  const msg = h('div');
  const btn = h('button', {
    type: 'button', class: 'btn danger',
    onclick: () => {
      if (!window.confirm(`Delete the user ${u.email}?`)) return;
      busy(btn, async () => {
        await api(`/api/users/${encodeURIComponent(u.user_id)}/`, { method: 'DELETE' });
        toast(`User ${u.email} deleted.`);
        route.go('#/users');
      }, msg);
    },
  }, 'Delete user');
  return section('Delete', msg, h('div', { class: 'actions' }, btn));
}
