// Sign in with an Oz account (POST /api/authorize/auth).

import { login } from '../api.js';
import { h, field, errorBox, title } from '../ui.js';

export async function render(main, route) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const msg = h('div', { id: 'login-msg' });
  const notice = sessionStorage.getItem('openoz.notice');
  if (notice) {
    sessionStorage.removeItem('openoz.notice');
    msg.appendChild(h('div', { class: 'alert info', role: 'status' }, notice));
  }
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Log in');
  const form = h('form', {
    class: 'login card', 'aria-labelledby': 'page-title',
    onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      msg.replaceChildren();
      try {
        await login(email.value.trim(), password.value);
        const next = route.params.get('next');
        // Only an in-page route: never follow an outside address from the URL.
        location.replace(next && /^#\/[\w/?=&%.:-]*$/.test(next) ? next : '#/folders');
      } catch (e) {
        msg.replaceChildren(errorBox(e.status === 401 ? { message: 'Wrong email or password.' } : e));
        password.select();
      } finally {
        submit.disabled = false;
      }
    },
  },
  title('Log in'),
  h('p', { class: 'muted' }, 'Use your openoz (Oz API) account.'),
  field('Email', email),
  field('Password', password),
  msg,
  submit);
  main.appendChild(form);
  email.focus();
}
