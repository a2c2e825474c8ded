// SSH keys: the table of a user's registered public keys (credentials shaped like
// tokens, for SFTP logins) and the form that registers one. An admin sees it on a
// user's page (POST /a/auth/keys with UserLogin), every user under their tokens on
// My tokens (their own). A key is shown by its fingerprint, never by the key itself.

import { call } from './api.js';
import { forgetPaths } from './tree.js';
import { expiryModel, lastUsed, parseScope, scopeItem, status, UNITS } from './token_cells.js';
import {
  append, capital, clear, confirmDialog, dateTime, errorBox, field, h, modal, relative, showError, showInfo, table, td,
} from './ui.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function emptyState(owner) {
  return h(
    'div',
    { class: 'empty' },
    h('p', {}, h('strong', { text: 'No SSH keys yet.' })),
    h('p', {}, 'A registered public key lets an SFTP client log in as ', h('code', { text: owner }), ' with the matching private key (', h('code', { text: `sftp -i KEY ${owner}@host` }), '). It expires, can be limited to some folders and revoked, as a token.'),
  );
}

/** The key table of `owner`, with its + button; call `.load()` to fill it. */
export function keyPanel({ owner, me }) {
  const body = h('div', {}, h('p', { class: 'loading', text: 'Loading SSH keys…' }));
  const add = h('button', { type: 'button', class: 'primary', text: '+ New SSH key', 'aria-label': 'New SSH key' });
  const panel = h('section', { 'aria-labelledby': 'keys-title' },
    h('div', { class: 'page-head' }, h('h2', { id: 'keys-title', text: 'SSH keys' }), add),
    body);

  const revoke = async (key) => {
    const ok = await confirmDialog(
      `Revoke the SSH key “${key.Label}”?`,
      'It is refused at the next login, and open SFTP sessions with it are closed within a second. This cannot be undone.',
      'Revoke',
    );
    if (!ok) return;
    try {
      await call('DELETE', `/a/auth/keys/${encodeURIComponent(key.Uuid)}`);
      showInfo(`The SSH key “${key.Label}” is revoked.`);
      await panel.load();
    } catch (err) {
      showError(err);
    }
  };

  panel.load = async () => {
    try {
      forgetPaths();
      const answer = await call('POST', '/a/auth/keys/list', { ByUser: owner });
      const rank = { active: 0, expired: 1, revoked: 2 };
      const keys = answer.Keys.sort((a, b) => (rank[a.Status] ?? 3) - (rank[b.Status] ?? 3) || b.CreatedAt - a.CreatedAt);
      if (keys.length === 0) {
        clear(body, emptyState(owner));
        return;
      }
      const rows = keys.map((key) => h(
        'tr',
        { 'data-key': key.Uuid },
        td('Label', h('div', { text: key.Label }), h('div', { class: 'small muted', text: key.Algorithm })),
        td('Fingerprint', h('code', { class: 'small fingerprint', text: key.Fingerprint })),
        td('Created', h('div', { text: dateTime(key.CreatedAt) }), h('div', { class: 'small muted', text: `by ${key.CreatedBy}` })),
        td('Expires', h('div', { class: key.Status === 'revoked' ? 'muted' : '', text: dateTime(key.ExpiresAt) }),
          h('div', { class: 'small muted', text: key.Status === 'revoked' ? 'revoked: never again' : relative(key.ExpiresAt) })),
        td('Expiration model', expiryModel(key)),
        td('Scopes', key.Scopes.length
          ? h('ul', { class: 'scopes' }, key.Scopes.map(parseScope).map(scopeItem))
          : h('span', { class: 'muted', text: `Everything ${owner} can reach` })),
        td('Last used', lastUsed(key)),
        td('Status', status(key)),
        h('td', { class: 'actions-cell' }, key.Status === 'revoked' ? null : h('button', {
          type: 'button', class: 'small danger', text: 'Revoke', 'aria-label': `Revoke SSH key ${key.Label}`, onclick: () => revoke(key),
        })),
      ));
      clear(body, table(['Label', 'Fingerprint', 'Created', 'Expires', 'Expiration model', 'Scopes', 'Last used', 'Status', ''], rows, 'SSH keys'));
    } catch (err) {
      clear(body, h('div', { class: 'error-box', role: 'alert', text: capital(err.detail || String(err)) }));
    }
  };

  add.addEventListener('click', async () => {
    await registerKeyDialog({ owner, me });
    add.focus();
    await panel.load();
  });
  return panel;
}

/** The + form; resolves true once a key was registered. */
function registerKeyDialog({ owner, me }) {
  const forSomeoneElse = owner.toLowerCase() !== me.login.toLowerCase();
  return modal((dialog, close, heading) => {
    const error = errorBox();
    const publicKey = h('textarea', { name: 'public-key', rows: '4', required: true, spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… comment' });
    const label = h('input', { type: 'text', name: 'label', maxlength: '128', placeholder: 'Default: the key’s comment' });
    const hard = h('input', { type: 'radio', name: 'key-model', value: 'hard', checked: true, id: 'key-model-hard' });
    const auto = h('input', { type: 'radio', name: 'key-model', value: 'auto', id: 'key-model-auto' });
    const amount = h('input', { type: 'number', name: 'amount', min: '1', step: '1', value: '90', required: true, id: 'key-amount' });
    const unit = h('select', { name: 'unit', 'aria-label': 'Unit' }, UNITS.map(([value, text]) => h('option', { value, text, selected: value === '86400' })));
    const amountLabel = h('label', { for: 'key-amount', text: 'Expires in' });
    const modelChanged = () => { amountLabel.textContent = auto.checked ? 'Refresh window' : 'Expires in'; };
    hard.addEventListener('change', modelChanged);
    auto.addEventListener('change', modelChanged);
    const scopes = h('input', { type: 'text', name: 'scopes', autocomplete: 'off', placeholder: 'node:UUID:r, node:UUID:rw' });

    const submit = h('button', { type: 'submit', class: 'primary', text: 'Register key' });
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
          if (!publicKey.value.trim()) {
            error.show('Paste the public key: the one line of the .pub file.');
            publicKey.focus();
            return;
          }
          const list = scopes.value.split(',').map((s) => s.trim()).filter(Boolean);
          const bad = list.find((s) => { const [kind, uuid, rights] = s.split(':'); return kind !== 'node' || !UUID.test(uuid || '') || !rights; });
          if (bad) {
            error.show(`“${bad}” is not a scope: write node:<UUID>:r, :w or :rw.`);
            scopes.focus();
            return;
          }
          const seconds = count * Number(unit.value);
          const body = { PublicKey: publicKey.value.trim(), Scopes: list };
          if (label.value.trim()) body.Label = label.value.trim();
          if (auto.checked) body.AutoRefresh = seconds;
          else body.ExpiresAt = Math.floor(Date.now() / 1000) + seconds;
          if (forSomeoneElse) body.UserLogin = owner;
          submit.disabled = true;
          try {
            await call('POST', '/a/auth/keys', body);
            // Named by its label: the fingerprint, which does not wrap, is in the table.
            const whose = forSomeoneElse ? ` for ${owner}` : '';
            showInfo(body.Label ? `The SSH key “${body.Label}” is registered${whose}.` : `An SSH key is registered${whose}.`);
            close(true);
          } catch (err) {
            error.show(err);
            submit.disabled = false;
          }
        },
      },
      heading(forSomeoneElse ? `New SSH key for ${owner}` : 'New SSH key'),
      error,
      field('Public key', publicKey, 'ed25519, ECDSA or RSA (2048 bits or more), as in id_ed25519.pub. Never the private key.'),
      field('Label (optional)', label),
      h('fieldset', {},
        h('legend', { text: 'Expiration model' }),
        h('label', { class: 'choice', for: 'key-model-hard' }, hard, 'Hard limit'),
        h('label', { class: 'choice', for: 'key-model-auto' }, auto, 'Auto refresh')),
      h('div', { class: 'field' }, amountLabel, h('div', { class: 'row' }, amount, unit)),
      field('Scopes (optional)', scopes, 'Comma-separated; the key then reaches only these nodes and what is inside them.'),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(false) }), submit),
    );
    append(dialog, form);
    queueMicrotask(() => publicKey.focus());
  });
}
