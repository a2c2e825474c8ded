// People (admins): the users with their number of active tokens, search, create, lock
// and unlock, delete; the token policy (policy.js) under them; and one user's page with
// their personal access tokens.
// The token counts are computed here from the admin's token list (POST /a/auth/tokens
// without ByUser lists everyone's), so no route exists only for the console.

import { call } from './api.js';
import { go } from './nav.js';
import { keyPanel } from './keys.js';
import { policyPanel } from './policy.js';
import { tokenPanel } from './tokens.js';
import {
  append, clear, confirmDialog, copyButton, dateTime, errorBox, field, h, modal, showError, showInfo, table, td,
} from './ui.js';

const USERS_PAGE = 1000;

async function allUsers() {
  const users = [];
  for (;;) {
    const page = await call('GET', `/a/users?offset=${users.length}&limit=${USERS_PAGE}`);
    users.push(...page.Users);
    if (page.Users.length === 0 || users.length >= page.Pagination.Total) return users;
  }
}

function adminsOnly(view) {
  clear(view, h('h1', { text: 'People' }), h('p', { class: 'empty', text: 'Only administrators manage people.' }));
}

async function setLocked(user, locked) {
  try {
    await call('PATCH', `/a/users/${encodeURIComponent(user.Login)}`, { Locked: locked });
    showInfo(locked ? `${user.Login} is locked: their passwords and tokens are refused.` : `${user.Login} is unlocked.`);
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}

async function deleteUser(user) {
  const ok = await confirmDialog(
    `Delete ${user.Login}?`,
    `This deletes the user ${user.Login}, their personal files and all their tokens. It cannot be undone.`,
  );
  if (!ok) return false;
  try {
    await call('DELETE', `/a/users/${encodeURIComponent(user.Login)}`);
    showInfo(`${user.Login} was deleted.`);
    return true;
  } catch (err) {
    showError(err);
    return false;
  }
}

export async function renderPeople(view, me) {
  if (!me.admin) return adminsOnly(view);
  const [users, tokens] = await Promise.all([allUsers(), call('POST', '/a/auth/tokens', {})]);
  const active = new Map();
  for (const token of tokens.Tokens) {
    if (token.Status === 'active') active.set(token.UserUuid, (active.get(token.UserUuid) || 0) + 1);
  }
  const search = h('input', { type: 'search', id: 'people-search', placeholder: 'Login or name', autocomplete: 'off' });
  const body = h('div');
  const count = h('p', { class: 'small muted', 'aria-live': 'polite' });

  const draw = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = users.filter((u) => !needle || u.Login.toLowerCase().includes(needle) || (u.DisplayName || '').toLowerCase().includes(needle));
    const plural = users.length === 1 ? 'user' : 'users';
    count.textContent = needle ? `${shown.length} of ${users.length} ${plural}` : `${users.length} ${plural}`;
    if (shown.length === 0) {
      clear(body, h('p', { class: 'empty', text: needle ? `No user matches “${search.value}”.` : 'No users.' }));
      return;
    }
    const rows = shown.map((user) => {
      const self = user.Login.toLowerCase() === me.login.toLowerCase();
      const tokensActive = active.get(user.Uuid) || 0;
      return h(
        'tr',
        { 'data-login': user.Login },
        td('Login', h('a', { href: `#/people/${encodeURIComponent(user.Login)}`, text: user.Login })),
        td('Display name', user.DisplayName || h('span', { class: 'muted', text: '—' })),
        td('Profile', h('span', { class: `badge ${user.Profile}`, text: user.Profile })),
        td('Status', h('span', { class: `badge ${user.Locked ? 'locked' : 'active'}`, text: user.Locked ? 'locked' : 'active' })),
        td('Active tokens', h('a', { href: `#/people/${encodeURIComponent(user.Login)}`, text: String(tokensActive), 'aria-label': `${tokensActive} active tokens of ${user.Login}` })),
        h('td', { class: 'actions-cell' },
          h('button', {
            type: 'button', class: 'small', text: user.Locked ? 'Unlock' : 'Lock', disabled: self,
            title: self ? 'You cannot lock yourself' : undefined, 'aria-label': `${user.Locked ? 'Unlock' : 'Lock'} ${user.Login}`,
            onclick: async () => { if (await setLocked(user, !user.Locked)) { user.Locked = !user.Locked; draw(); } },
          }),
          h('button', {
            type: 'button', class: 'small danger', text: 'Delete', disabled: self,
            title: self ? 'You cannot delete yourself' : undefined, 'aria-label': `Delete ${user.Login}`,
            onclick: async () => { if (await deleteUser(user)) { users.splice(users.indexOf(user), 1); draw(); } },
          })),
      );
    });
    clear(body, table(['Login', 'Display name', 'Profile', 'Status', 'Active tokens', ''], rows, 'People'));
  };
  search.addEventListener('input', draw);

  const add = h('button', { type: 'button', class: 'primary', text: '+ New user', 'aria-label': 'New user' });
  add.addEventListener('click', async () => {
    const created = await createUserDialog();
    add.focus();
    if (created) {
      users.push(created);
      users.sort((a, b) => a.Login.localeCompare(b.Login));
      draw();
    }
  });

  draw();
  const policy = policyPanel();
  clear(
    view,
    h('div', { class: 'page-head' }, h('h1', { text: 'People' }), add),
    h('div', { class: 'toolbar' }, h('label', { for: 'people-search', text: 'Search' }), search, count),
    body,
    policy,
  );
  await policy.load();
}

/** The + form; resolves with the new user, or null. */
function createUserDialog() {
  return modal((dialog, close, heading) => {
    const error = errorBox();
    const login = h('input', { type: 'text', name: 'login', required: true, autocomplete: 'off' });
    const name = h('input', { type: 'text', name: 'display-name', autocomplete: 'off' });
    const password = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password' });
    const profile = h('select', { name: 'profile' }, h('option', { value: 'standard', text: 'Standard', selected: true }), h('option', { value: 'admin', text: 'Admin' }));
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Create user' });
    let created = null;
    const form = h(
      'form',
      {
        onsubmit: async (event) => {
          event.preventDefault();
          error.reset();
          const body = { Login: login.value.trim(), Profile: profile.value };
          if (name.value.trim()) body.DisplayName = name.value.trim();
          if (password.value) body.Password = password.value;
          submit.disabled = true;
          try {
            const answer = await call('POST', '/a/users', body);
            created = answer.User;
            password.value = '';
            if (answer.GeneratedPassword) {
              const shown = h('input', { type: 'text', class: 'secret', readonly: 'readonly', value: answer.GeneratedPassword });
              const done = h('button', { type: 'button', class: 'primary', text: 'Done', onclick: () => { shown.value = ''; close(created); } });
              dialog.addEventListener('close', () => { shown.value = ''; });
              clear(dialog,
                heading(`${created.Login} was created`),
                h('p', { class: 'warning' }, h('strong', { text: 'Generated password, shown once. ' }), 'Give it to the user over a safe channel.'),
                field('Password', shown),
                h('div', { class: 'row' }, copyButton(() => shown.value, 'password')),
                h('div', { class: 'actions' }, done));
              done.focus();
            } else {
              showInfo(`${created.Login} was created.`);
              close(created);
            }
          } catch (err) {
            error.show(err);
            submit.disabled = false;
          }
        },
      },
      heading('New user'),
      error,
      field('Login', login, 'Letters, digits and . _ - @, starting with a letter or digit; unique whatever the case.'),
      field('Display name (optional)', name),
      field('Password (optional)', password, 'Leave empty to have one generated and shown once.'),
      field('Profile', profile, 'Admins manage people, workspaces and everyone’s tokens.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(null) }), submit),
    );
    append(dialog, form);
    // Escape after the user was created still hands the user back.
    dialog.addEventListener('cancel', (e) => { if (created) { e.preventDefault(); close(created); } });
  });
}

export async function renderPerson(view, me, login) {
  if (!me.admin) return adminsOnly(view);
  const user = await call('GET', `/a/users/${encodeURIComponent(login)}`);
  const self = user.Login.toLowerCase() === me.login.toLowerCase();
  const status = h('span', { class: `badge ${user.Locked ? 'locked' : 'active'}`, text: user.Locked ? 'locked' : 'active' });
  const lock = h('button', { type: 'button', text: user.Locked ? 'Unlock' : 'Lock', disabled: self });
  lock.addEventListener('click', async () => {
    if (await setLocked(user, !user.Locked)) {
      user.Locked = !user.Locked;
      status.className = `badge ${user.Locked ? 'locked' : 'active'}`;
      status.textContent = user.Locked ? 'locked' : 'active';
      lock.textContent = user.Locked ? 'Unlock' : 'Lock';
    }
  });
  const remove = h('button', { type: 'button', class: 'danger', text: 'Delete user', disabled: self });
  remove.addEventListener('click', async () => {
    if (await deleteUser(user)) go('#/people');
  });
  const panel = tokenPanel({ owner: user.Login, me, self: false });
  const keys = keyPanel({ owner: user.Login, me });
  clear(
    view,
    h('nav', { 'aria-label': 'Breadcrumbs' }, h('ol', { class: 'crumbs' }, h('li', {}, h('a', { href: '#/people', text: 'People' })), h('li', {}, h('span', { 'aria-current': 'page', text: user.Login })))),
    h('div', { class: 'page-head' },
      h('h1', {}, user.DisplayName && user.DisplayName !== user.Login ? `${user.DisplayName} (${user.Login})` : user.Login),
      h('div', { class: 'row' }, lock, remove)),
    h('p', { class: 'row' },
      h('span', { class: `badge ${user.Profile}`, text: user.Profile }), status,
      h('span', { class: 'small muted', text: `Created ${dateTime(user.CreatedAt)}` }),
      h('span', { class: 'uuid small muted' }, 'UUID ', h('code', { text: user.Uuid }))),
    panel,
    keys,
  );
  await Promise.all([panel.load(), keys.load()]);
}
