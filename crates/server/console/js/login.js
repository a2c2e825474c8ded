// The sign-in page: the OAuth2 password grant. A wrong login or password gets one
// message, whichever was wrong; throttling (429) says how long to wait.

import { ApiError, signIn } from './api.js';
import { go } from './nav.js';
import { clear, field, h, hideFlash } from './ui.js';

export async function renderLogin(view) {
  const login = h('input', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('div', { class: 'error-box', role: 'alert', hidden: true, id: 'login-message' });
  const submit = h('button', { type: 'submit', class: 'primary', text: 'Sign in' });
  let timer = null;
  let waiting = false;

  const say = (text) => {
    message.textContent = text;
    message.hidden = false;
  };

  const wait = (seconds) => {
    clearInterval(timer);
    let left = seconds;
    waiting = true;
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(timer);
        waiting = false;
        submit.disabled = false;
        say('You can try again now.');
        return;
      }
      say(`Too many failed sign-in attempts from this address. Wait ${left} s before trying again.`);
      left -= 1;
    };
    tick();
    timer = setInterval(tick, 1000);
  };

  const form = h(
    'form',
    {
      class: 'panel login',
      'aria-labelledby': 'login-title',
      onsubmit: async (event) => {
        event.preventDefault();
        message.hidden = true;
        submit.disabled = true;
        submit.textContent = 'Signing in…';
        try {
          await signIn(login.value.trim(), password.value);
          password.value = '';
          clearInterval(timer);
          hideFlash();
          go('#/files');
          return;
        } catch (err) {
          if (err instanceof ApiError && err.status === 429) {
            wait(err.retryAfter || 60);
          } else if (err instanceof ApiError && err.status === 400 && err.code === 'invalid_grant') {
            say('Wrong login or password.');
            password.select();
          } else {
            say(err.detail || String(err));
          }
        }
        submit.textContent = 'Sign in';
        submit.disabled = waiting;
      },
    },
    h('h1', { id: 'login-title', text: 'Sign in to cells' }),
    message,
    field('Login', login),
    field('Password', password),
    h('div', { class: 'actions' }, submit),
  );
  clear(view, form);
  login.focus();
}
