// The console's shell: sign-in state, navigation and the hash router (#/folders?status=...).
// Each page is an ES module in pages/ exporting `render(main, route)`.

import { session, logout, can, setExpiredHandler } from './api.js';
import { h, mount, errorBox } from './ui.js';

const PAGES = {
  login: () => import('./pages/login.js'),
  folders: () => import('./pages/folders.js'),
  queue: () => import('./pages/operator.js'),
  audit: () => import('./pages/operator.js'),
  collections: () => import('./pages/blacklist.js'),
  companies: () => import('./pages/admin.js'),
  users: () => import('./pages/admin.js'),
  stats: () => import('./pages/stats.js'),
  try: () => import('./pages/tryit.js'),
};

/** The main menu: what the signed-in role can use. */
function navItems() {
  const items = [['folders', 'Folders']];
  if (can('decide') || can('audit')) items.push(['queue', 'Operator queue']);
  if (can('audit')) items.push(['audit', 'Decisions']);
  items.push(['collections', 'Blacklist']);
  if (can('admin') || can('companies')) {
    if (can('companies') || session().user_type === 'CLIENT') items.push(['companies', 'Companies']);
    items.push(['users', 'Users']);
  }
  items.push(['stats', 'Statistics']);
  if (can('upload')) items.push(['try', 'Try it']);
  return items;
}

/** Parses location.hash into {name, parts, params}. */
export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try { return decodeURIComponent(p); } catch (_) { return p; }
  });
  return { name: parts[0] || 'folders', parts, params: new URLSearchParams(query || '') };
}

/** Moves to `#/path?query`. */
export function go(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function renderChrome(route) {
  const s = session();
  const who = document.getElementById('who');
  const nav = document.getElementById('nav');
  if (!s) {
    mount(who);
    mount(nav);
    return;
  }
  const role = s.user_type === 'CLIENT' && s.is_admin ? 'CLIENT ADMIN' : s.user_type;
  mount(who,
    h('span', { class: 'who-name' }, s.email || s.user_id),
    h('span', { class: 'badge plain' }, role),
    h('button', {
      type: 'button', class: 'btn link', id: 'logout',
      onclick: async () => { await logout(); go('#/login'); },
    }, 'Log out'));
  mount(nav, h('ul', {}, navItems().map(([name, label]) => h('li', {},
    h('a', { href: `#/${name}`, 'aria-current': route.name === name ? 'page' : undefined }, label)))));
}

let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  let route = currentRoute();
  if (!session() && route.name !== 'login') {
    const back = location.hash && !location.hash.startsWith('#/login') ? location.hash : '';
    location.replace(`#/login${back ? `?next=${encodeURIComponent(back)}` : ''}`);
    return;
  }
  if (session() && route.name === 'login') route = { ...route, name: 'folders', parts: [] };
  renderChrome(route);
  const load = PAGES[route.name];
  if (!load) {
    mount(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page. '), h('a', { href: '#/folders' }, 'Go to folders'));
    return;
  }
  // Each render draws into its own element: a slower, older render that is still awaiting the
  // API keeps writing into a view that is no longer in the page.
  const view = h('div', { class: 'view' });
  try {
    const mod = await load();
    if (seq !== renderSeq) return;
    mount(main, view);
    await mod.render(view, { ...route, go, isCurrent: () => seq === renderSeq });
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e && e.status === 401) return; // the expired handler moved to the login page
    mount(main, view);
    mount(view, h('h1', {}, 'Something went wrong'), errorBox(e));
  }
  if (seq === renderSeq && document.activeElement === document.body && renderSeq > 1) main.focus({ preventScroll: true });
}

setExpiredHandler(() => {
  sessionStorage.setItem('openoz.notice', 'Your session has ended. Please log in again.');
  location.replace(`#/login?next=${encodeURIComponent(location.hash || '#/folders')}`);
});

window.addEventListener('hashchange', render);
render();
