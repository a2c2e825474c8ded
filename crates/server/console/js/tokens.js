// Personal access tokens: the table of a user's tokens and the form that creates one.
// The same panel serves an admin on a user's page (`owner` = that login, created with
// /a/auth/token/impersonate) and every user on "My tokens" (/a/auth/token/personal).
// The secret of a new token is shown once, in the dialog that created it, and dropped
// when the dialog closes.

import { call } from './api.js';
import { pickNode } from './picker.js';
import { forgetPaths, pathOf } from './tree.js';
import {
  append, capital, clear, confirmDialog, copyText, dateTime, duration, errorBox, field, h, modal, relative, showError, showInfo, table, td,
} from './ui.js';

const RIGHTS = { r: 'read only', w: 'write only', rw: 'read and write', wr: 'read and write' };
export const UNITS = [['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function renderMyTokens(view, me) {
  const panel = tokenPanel({ owner: me.login, me, self: true });
  clear(
    view,
    h('h1', { text: 'My tokens' }),
    h('p', { class: 'muted', text: 'Tokens act as you, within the scopes you give them. Revoke one as soon as you stop using it.' }),
    panel,
  );
  await panel.load();
}

/** `node:UUID:rw` → `{uuid, rights}`. */
export function parseScope(text) {
  const [, uuid, rights] = text.split(':');
  return { uuid, rights };
}

export function scopeItem({ uuid, rights }) {
  const place = h('span', { class: 'mono', text: uuid });
  pathOf(uuid).then(
    (path) => {
      if (path) {
        place.textContent = path;
        place.className = '';
        place.title = uuid;
      } else {
        place.after(h('span', { class: 'muted small', text: ' (not visible to you)' }));
      }
    },
    () => {},
  );
  return h('li', {}, h('div', {}, place), h('div', { class: 'muted small', text: RIGHTS[rights] || rights }));
}

export function expiryModel(token) {
  if (token.AutoRefreshWindow > 0) {
    const parts = [h('div', { text: 'Auto refresh' }), h('div', { class: 'small muted', text: `${duration(token.AutoRefreshWindow)} after last use` })];
    if (token.MaxExpiresAt) parts.push(h('div', { class: 'small muted', text: `never after ${dateTime(token.MaxExpiresAt)}` }));
    return parts;
  }
  return h('div', { text: 'Hard limit' });
}

export function lastUsed(token) {
  if (!token.LastUsedAt) return h('span', { class: 'muted', text: 'Never' });
  const where = [token.LastUsedIp, token.LastUsedVia && `via ${token.LastUsedVia}`].filter(Boolean).join(' ');
  return [
    h('div', { title: dateTime(token.LastUsedAt), text: relative(token.LastUsedAt) }),
    h('div', { class: 'small muted', text: dateTime(token.LastUsedAt) }),
    where ? h('div', { class: 'small muted', text: where }) : null,
  ];
}

export function status(token) {
  const parts = [h('span', { class: `badge ${token.Status}`, text: token.Status })];
  if (token.RevokedAt) parts.push(h('div', { class: 'small muted', text: dateTime(token.RevokedAt) }));
  if (token.LastFailureAt) {
    // Why the server last refused it (expired, revoked, wrong login, user locked).
    const why = token.LastFailureReason ? `: ${token.LastFailureReason}` : '';
    parts.push(h('div', { class: 'small muted', title: dateTime(token.LastFailureAt), text: `refused ${relative(token.LastFailureAt)}${why}` }));
  }
  return parts;
}

function emptyState(owner, self) {
  const who = self ? 'you' : owner;
  return h(
    'div',
    { class: 'empty' },
    h('p', {}, h('strong', { text: 'No personal access tokens yet.' })),
    h('p', { text: `A personal access token lets a script, a sync client or another app act as ${who} without a password. It expires at a fixed time (hard limit) or after a period without use (auto refresh), and can be limited to some folders, read only or read and write.` }),
    h('p', {}, 'Use it as ', h('code', { text: 'Authorization: Bearer cpat_…' }), ' on the REST API and /io, or as the password, with ', h('code', { text: owner }), ' as the username, in WebDAV and SFTP clients.'),
    h('p', { text: 'Create one with the + New token button.' }),
  );
}

/** The token table of `owner`, with its + button; call `.load()` to fill it. */
export function tokenPanel({ owner, me, self }) {
  const body = h('div', {}, h('p', { class: 'loading', text: 'Loading tokens…' }));
  const add = h('button', { type: 'button', class: 'primary', text: '+ New token', 'aria-label': 'New token' });
  const panel = h('section', { 'aria-labelledby': 'tokens-title' },
    h('div', { class: 'page-head' }, h('h2', { id: 'tokens-title', text: 'Personal access tokens' }), add),
    body);

  const revoke = async (token) => {
    const ok = await confirmDialog(
      `Revoke “${token.Label}”?`,
      'Every client that uses this token is refused within a second, on every protocol. This cannot be undone.',
      'Revoke',
    );
    if (!ok) return;
    try {
      await call('DELETE', `/a/auth/tokens/${encodeURIComponent(token.Uuid)}`);
      // Named by its label, as in the table: the server's message names it by Uuid.
      showInfo(`“${token.Label}” is revoked: every client that uses it is refused.`);
      await panel.load();
    } catch (err) {
      showError(err);
    }
  };

  panel.load = async () => {
    try {
      forgetPaths();
      // Without ByUser an admin gets everyone's tokens, so My tokens names the admin
      // (me.login is spelled as the server spells it, for admins). Others get their own
      // either way and send none: the server compares their ByUser with their login
      // case for case, and me.login is what they typed to sign in ("Bob" for "bob").
      const answer = await call('POST', '/a/auth/tokens', self && !me.admin ? {} : { ByUser: owner });
      // Active first, then expired, then revoked; newest first within each; by label last.
      const rank = { active: 0, expired: 1, revoked: 2 };
      const tokens = answer.Tokens.sort((a, b) => (rank[a.Status] ?? 3) - (rank[b.Status] ?? 3)
        || b.CreatedAt - a.CreatedAt
        || a.Label.localeCompare(b.Label, undefined, { numeric: true }));
      if (tokens.length === 0) {
        clear(body, emptyState(owner, self));
        return;
      }
      const rows = tokens.map((token) => h(
        'tr',
        { 'data-token': token.Uuid },
        td('Label', h('div', { text: token.Label }), token.Type === 'DOCUMENT' ? h('span', { class: 'badge', text: 'document' }) : null),
        td('Created', h('div', { text: dateTime(token.CreatedAt) }), h('div', { class: 'small muted', text: `by ${token.CreatedBy}` })),
        td('Expires', h('div', { class: token.Status === 'revoked' ? 'muted' : '', text: dateTime(token.ExpiresAt) }),
          h('div', { class: 'small muted', text: token.Status === 'revoked' ? 'revoked: never again' : relative(token.ExpiresAt) })),
        td('Expiration model', expiryModel(token)),
        td('Scopes', token.Scopes.length
          ? h('ul', { class: 'scopes' }, token.Scopes.map(parseScope).map(scopeItem))
          : h('span', { class: 'muted', text: `Everything ${self ? 'you' : owner} can reach` })),
        td('Last used', lastUsed(token)),
        td('Status', status(token)),
        h('td', { class: 'actions-cell' }, token.Status === 'revoked' ? null : h('button', {
          type: 'button', class: 'small danger', text: 'Revoke', 'aria-label': `Revoke ${token.Label}`, onclick: () => revoke(token),
        })),
      ));
      clear(body, table(['Label', 'Created', 'Expires', 'Expiration model', 'Scopes', 'Last used', 'Status', ''], rows, 'Personal access tokens'));
    } catch (err) {
      clear(body, h('div', { class: 'error-box', role: 'alert', text: capital(err.detail || String(err)) }));
    }
  };

  add.addEventListener('click', async () => {
    // Closed by Done, Escape or Cancel: the table is read again either way.
    await createTokenDialog({ owner, me, self });
    add.focus();
    await panel.load();
  });
  return panel;
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** The + form; resolves true once a token was created (and its secret shown). */
function createTokenDialog({ owner, me, self }) {
  const forSomeoneElse = !self && owner.toLowerCase() !== me.login.toLowerCase();
  return modal((dialog, close, heading) => {
    const error = errorBox();
    const label = h('input', { type: 'text', name: 'label', value: `Console token, ${today()}`, maxlength: '128', required: true });
    const hard = h('input', { type: 'radio', name: 'model', value: 'hard', checked: true, id: 'model-hard' });
    const auto = h('input', { type: 'radio', name: 'model', value: 'auto', id: 'model-auto' });
    const amount = h('input', { type: 'number', name: 'amount', min: '1', step: '1', value: '30', required: true, id: 'token-amount' });
    const unit = h('select', { name: 'unit', 'aria-label': 'Unit' }, UNITS.map(([value, text]) => h('option', { value, text, selected: value === '86400' })));
    const amountLabel = h('label', { for: 'token-amount', text: 'Expires in' });
    const amountHint = h('div', { class: 'hint', id: 'token-amount-hint', text: 'The token stops working at that time, used or not.' });
    amount.setAttribute('aria-describedby', amountHint.id);
    const cap = h('input', { type: 'datetime-local', name: 'cap', id: 'token-cap' });
    const capField = field('Never valid after (optional)', cap, 'An absolute limit: however often the token is used, it expires then.');
    capField.hidden = true;

    const modelChanged = () => {
      const isAuto = auto.checked;
      amountLabel.textContent = isAuto ? 'Refresh window' : 'Expires in';
      amountHint.textContent = isAuto
        ? 'Each use pushes the expiry back by this much; left unused for longer, the token expires.'
        : 'The token stops working at that time, used or not.';
      capField.hidden = !isAuto;
    };
    hard.addEventListener('change', modelChanged);
    auto.addEventListener('change', modelChanged);

    // Scopes chosen so far: {uuid, path|null, rights}.
    const scopes = [];
    const scopeList = h('ul', { class: 'scopes', 'aria-label': 'Chosen scopes' });
    const drawScopes = () => {
      if (scopes.length === 0) {
        clear(scopeList, h('li', { class: 'muted small', text: `No scope: the token reaches everything ${self ? 'you' : owner} can reach.` }));
        return;
      }
      clear(scopeList, scopes.map((scope, i) => {
        const name = scope.path || scope.uuid;
        const rights = h('select', { 'aria-label': `Access to ${name}` },
          [['r', 'Read only'], ['rw', 'Read and write'], ['w', 'Write only']].map(([value, text]) => h('option', { value, text, selected: value === scope.rights })));
        rights.addEventListener('change', () => { scope.rights = rights.value; });
        return h('li', { class: 'row' },
          h('span', { class: scope.path ? '' : 'mono', text: name }),
          scope.path ? null : h('span', { class: 'muted small', text: '(not visible to you; checked when the token is created)' }),
          rights,
          h('button', { type: 'button', class: 'small', text: 'Remove', 'aria-label': `Remove scope ${name}`, onclick: () => { scopes.splice(i, 1); drawScopes(); } }));
      }));
    };
    const addScope = (uuid, path) => {
      if (!scopes.some((s) => s.uuid === uuid)) scopes.push({ uuid, path, rights: 'r' });
      drawScopes();
    };

    const browse = h('button', { type: 'button', text: 'Add from folders…' });
    browse.addEventListener('click', async () => {
      const note = forSomeoneElse
        ? `You browse the folders you can see. The personal folder of ${owner} is private to them and not listed here: to scope a token to it, paste the UUID ${owner} sees on their Files page.`
        : undefined;
      const node = await pickNode({ title: 'Choose a folder or file for the scope', files: true, hideWorkspaces: forSomeoneElse ? ['personal-files'] : [], note });
      if (node) addScope(node.Uuid, node.Path);
      browse.focus();
    });
    const uuidInput = h('input', { type: 'text', name: 'uuid', placeholder: '00000000-0000-0000-0000-000000000000', autocomplete: 'off', id: 'scope-uuid' });
    const addUuid = h('button', { type: 'button', text: 'Add UUID' });
    addUuid.addEventListener('click', async () => {
      const uuid = uuidInput.value.trim().toLowerCase();
      if (!UUID.test(uuid)) {
        error.show(`“${uuidInput.value}” is not a node UUID (like 123e4567-e89b-12d3-a456-426614174000).`);
        return;
      }
      error.reset();
      let path = null;
      try {
        path = await pathOf(uuid);
      } catch (err) {
        error.show(err);
        return;
      }
      uuidInput.value = '';
      addScope(uuid, path);
    });

    const submit = h('button', { type: 'submit', class: 'primary', text: 'Create token' });
    const form = h(
      'form',
      {
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          error.reset();
          const count = Number(amount.value);
          if (!Number.isInteger(count) || count < 1) {
            error.show(`${amountLabel.textContent} must be a whole number of ${unit.selectedOptions[0].text}, at least 1.`);
            amount.focus();
            return;
          }
          if (!label.value.trim()) {
            error.show('Give the token a label, so that you know later what uses it.');
            label.focus();
            return;
          }
          const seconds = count * Number(unit.value);
          const body = { Label: label.value.trim(), Scopes: scopes.map((s) => `node:${s.uuid}:${s.rights}`) };
          if (auto.checked) {
            body.AutoRefresh = seconds;
            if (cap.value) {
              const at = Math.floor(new Date(cap.value).getTime() / 1000);
              if (!Number.isFinite(at)) {
                error.show('The limit date is not a valid date and time.');
                return;
              }
              body.ExpiresAt = at;
            }
          } else {
            body.ExpiresAt = Math.floor(Date.now() / 1000) + seconds;
          }
          const route = forSomeoneElse ? '/a/auth/token/impersonate' : '/a/auth/token/personal';
          if (forSomeoneElse) body.UserLogin = owner;
          submit.disabled = true;
          try {
            const answer = await call('POST', route, body);
            showSecret(dialog, close, heading, answer.AccessToken, owner, self);
          } catch (err) {
            error.show(err);
            submit.disabled = false;
          }
        },
      },
      heading(self ? 'New token' : `New token for ${owner}`),
      error,
      field('Label', label, 'What the token is for: shown in this table, never used to sign in.'),
      h('fieldset', {},
        h('legend', { text: 'Expiration model' }),
        h('label', { class: 'choice', for: 'model-hard' }, hard, 'Hard limit'),
        h('label', { class: 'choice', for: 'model-auto' }, auto, 'Auto refresh')),
      h('div', { class: 'field' }, amountLabel, h('div', { class: 'row' }, amount, unit), amountHint),
      capField,
      h('fieldset', {},
        h('legend', { text: 'Scopes (optional)' }),
        h('p', { class: 'small muted', text: 'Limit the token to folders or files (and everything inside them). A scope only narrows: never beyond what the user may do.' }),
        scopeList,
        h('div', { class: 'row' }, browse),
        h('div', { class: 'field' },
          h('label', { for: 'scope-uuid', text: 'Or a node UUID' }),
          h('div', { class: 'row' }, uuidInput, addUuid))),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(false) }), submit),
    );
    drawScopes();
    append(dialog, form);
    queueMicrotask(() => label.focus());
  });
}

/** Replaces the form with the secret, shown this once. */
function showSecret(dialog, close, heading, secret, owner, self) {
  const input = h('input', { type: 'text', class: 'secret', readonly: 'readonly', value: secret, id: 'new-token' });
  const copy = h('button', { type: 'button', class: 'primary', text: 'Copy token' });
  copy.addEventListener('click', () => {
    input.select();
    copyText(input.value, copy);
  });
  const done = h('button', { type: 'button', text: 'Done' });
  done.addEventListener('click', () => {
    input.value = '';
    close(true);
  });
  dialog.addEventListener('close', () => { input.value = ''; });
  clear(
    dialog,
    heading('Token created'),
    h('p', { class: 'warning', role: 'status' }, h('strong', { text: 'Copy it now: it will not be shown again. ' }), `Keep it secret: anyone who has it can act as ${self ? 'you' : owner} within its scopes.`),
    field('Token', input),
    h('div', { class: 'row' }, copy),
    h('p', { class: 'small muted' }, 'REST and /io: ', h('code', { text: 'Authorization: Bearer <token>' }), '. WebDAV and SFTP: username ', h('code', { text: owner }), ', the token as the password.'),
    h('div', { class: 'actions' }, done),
  );
  queueMicrotask(() => copy.focus());
}
