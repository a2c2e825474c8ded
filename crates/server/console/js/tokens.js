// Personal access tokens: the table of a user's tokens and the form that creates one.
// The same panel serves an admin on a user's page (`owner` = that login, created with
// /a/auth/token/impersonate) and every user on "My tokens" (/a/auth/token/personal).
// Each row shows the token's limits, expiry, leak mark and rotation, and offers Rotate,
// Activity and Revoke (token_life.js); the form and the secret shown once are in
// token_form.js, the cells in token_cells.js.

import { call } from './api.js';
import {
  expires, expiryModel, lastUsed, limits, parseScope, scopeItem, status,
} from './token_cells.js';
import { createTokenDialog } from './token_form.js';
import { activityDialog, rotateDialog } from './token_life.js';
import { forgetPaths } from './tree.js';
import {
  capital, clear, confirmDialog, dateTime, h, showError, showInfo, table, td,
} from './ui.js';


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

  const rotate = async (token, button) => {
    const rotated = await rotateDialog(token, { owner, self });
    if (!rotated) {
      button.focus();
      return;
    }
    await panel.load();
    // The table was drawn anew: focus goes to the same token's first button.
    const again = panel.querySelector(`tr[data-token="${token.Uuid}"] button`);
    if (again) again.focus();
  };

  // Rotate only what still works; Activity always (a revoked token's history too).
  const actions = (token) => {
    const ended = token.Status === 'revoked' || token.Status === 'leaked';
    const rotateButton = token.Status !== 'active' ? null : h('button', {
      type: 'button', class: 'small', text: 'Rotate', 'aria-label': `Rotate ${token.Label}`, onclick: (e) => rotate(token, e.currentTarget),
    });
    const activity = h('button', {
      type: 'button', class: 'small', text: 'Activity', 'aria-label': `Activity of ${token.Label}`,
      onclick: async (e) => { const button = e.currentTarget; await activityDialog(token); button.focus(); },
    });
    const revokeButton = ended ? null : h('button', {
      type: 'button', class: 'small danger', text: 'Revoke', 'aria-label': `Revoke ${token.Label}`, onclick: () => revoke(token),
    });
    return [rotateButton, activity, revokeButton];
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
      const rank = { active: 0, expired: 1, leaked: 2, revoked: 2 };
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
        td('Expires', expires(token)),
        td('Expiration model', expiryModel(token)),
        td('Scopes', token.Scopes.length
          ? h('ul', { class: 'scopes' }, token.Scopes.map(parseScope).map(scopeItem))
          : h('span', { class: 'muted', text: `Everything ${self ? 'you' : owner} can reach` })),
        td('Limits', limits(token)),
        td('Last used', lastUsed(token)),
        td('Status', status(token)),
        h('td', { class: 'actions-cell' }, actions(token)),
      ));
      clear(body, table(['Label', 'Created', 'Expires', 'Expiration model', 'Scopes', 'Limits', 'Last used', 'Status', ''], rows, 'Personal access tokens'));
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
