// The console's entry point: a hash router (`#/files/...`, `#/people`, `#/people/LOGIN`,
// `#/tokens`, `#/login`), the header navigation, and sign-in state. The hash holds only
// places, never a credential.

import { onSessionEnd, signOut, whoami } from './api.js';
import { renderFiles } from './files.js';
import { keyPanel } from './keys.js';
import { renderLogin } from './login.js';
import { renderPeople, renderPerson } from './people.js';
import { renderMyTokens } from './tokens.js';
import { go, keepMessage, takeKeep } from './nav.js';
import { capital, clear, h, hideFlash, showError } from './ui.js';

const main = document.getElementById('main');

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a hand-typed `%` that escapes nothing
  }
}

function parse(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((s) => s !== '').map(decode);
  return { page: parts[0] || '', rest: parts.slice(1) };
}

function updateHeader(me, page) {
  document.getElementById('nav').hidden = !me;
  document.getElementById('who').hidden = !me;
  document.getElementById('who-login').textContent = me ? `${me.login}${me.admin ? ' (admin)' : ''}` : '';
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.hasAttribute('data-admin')) link.hidden = !(me && me.admin);
    if (link.dataset.page === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

const titles = { files: 'Files', people: 'People', tokens: 'My tokens', login: 'Sign in' };

async function route() {
  const me = whoami();
  const { page, rest } = parse(location.hash);
  if (!me && page !== 'login') {
    location.replace('#/login');
    return;
  }
  if (me && (page === 'login' || page === '')) {
    location.replace('#/files');
    return;
  }
  updateHeader(me, page);
  document.title = `${titles[page] || 'cells'} · cells`;
  const view = h('div', { class: 'view' }, h('p', { class: 'loading', text: 'Loading…' }));
  clear(main, view);
  try {
    if (page === 'login') await renderLogin(view);
    else if (page === 'files') await renderFiles(view, rest);
    else if (page === 'people' && rest.length === 0) await renderPeople(view, me);
    else if (page === 'people') await renderPerson(view, me, rest[0]);
    else if (page === 'tokens') {
      await renderMyTokens(view, me);
      // Beside the tokens, the other credential of one's own: SSH keys for SFTP.
      const keys = keyPanel({ owner: me.login, me });
      view.append(keys);
      await keys.load();
    }
    else clear(view, h('h1', { text: 'Not found' }), h('p', {}, 'No such page. ', h('a', { href: '#/files', text: 'Go to your files' })));
  } catch (err) {
    clear(
      view,
      h('h1', { text: titles[page] || 'Error' }),
      h('div', { class: 'error-box', role: 'alert', text: capital(err.detail || String(err)) }),
      h('p', {}, h('a', { href: '#/files', text: 'Back to your files' })),
    );
  }
}

// A page change clears the message of the previous page, except one that led here.
window.addEventListener('hashchange', async () => {
  if (!takeKeep()) hideFlash();
  await route();
  // Keyboard and screen reader users start at the new page, not at the old link.
  if (!main.contains(document.activeElement) && !document.querySelector('dialog[open]')) main.focus();
});

document.getElementById('sign-out').addEventListener('click', async () => {
  hideFlash();
  const ending = signOut();
  go('#/login');
  await ending;
});

onSessionEnd((message) => {
  keepMessage();
  showError(message);
  go('#/login');
});

route();
