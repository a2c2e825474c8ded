// The form that creates a personal access token (for oneself with
// /a/auth/token/personal, or by an admin for someone else with /a/auth/token/impersonate)
// and the one place a new secret is shown: once, with a copy button and a warning, and
// dropped when the dialog closes. Rotation shows its new secret the same way.

import { call } from './api.js';
import { pickNode } from './picker.js';
import { policyNote } from './policy.js';
import { UNITS, VIA } from './token_cells.js';
import { pathOf } from './tree.js';
import {
  append, clear, copyText, errorBox, field, h, modal,
} from './ui.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Address blocks as typed: separated by commas, spaces or new lines. */
export function splitBlocks(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
}

function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** The + form; resolves true once a token was created (and its secret shown). */
export function createTokenDialog({ owner, me, self }) {
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

    // Limits: address blocks and protocols; empty means any.
    const ips = h('textarea', { name: 'allowed-ips', rows: '2', spellcheck: 'false', autocomplete: 'off', placeholder: '10.0.0.0/8, 2001:db8::/32' });
    const via = VIA.map(([value, text]) => h('input', { type: 'checkbox', name: 'via', value, id: `token-via-${value}`, 'data-text': text }));

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
          const blocks = splitBlocks(ips.value);
          if (blocks.length) body.AllowedIps = blocks;
          const protocols = via.filter((box) => box.checked).map((box) => box.value);
          if (protocols.length) body.AllowedVia = protocols;
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
      policyNote(),
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
      h('fieldset', {},
        h('legend', { text: 'Limits (optional)' }),
        field('Allowed addresses', ips, 'Address blocks the token may be used from, separated by commas or new lines; a bare address is that one host. Empty: any address.'),
        h('div', { class: 'field', role: 'group', 'aria-labelledby': 'token-via-title' },
          h('div', { class: 'label', id: 'token-via-title', text: 'Allowed protocols' }),
          h('div', { class: 'row' }, via.map((box) => h('label', { class: 'choice', for: box.id }, box, box.dataset.text))),
          h('div', { class: 'hint', text: 'None checked: every protocol.' }))),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(false) }), submit),
    );
    drawScopes();
    append(dialog, form);
    queueMicrotask(() => label.focus());
  });
}

/** Replaces the form with the secret, shown this once. */
export function showSecret(dialog, close, heading, secret, owner, self, { title = 'Token created', note = null } = {}) {
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
    heading(title),
    note ? h('p', { text: note }) : null,
    h('p', { class: 'warning', role: 'status' }, h('strong', { text: 'Copy it now: it will not be shown again. ' }), `Keep it secret: anyone who has it can act as ${self ? 'you' : owner} within its scopes.`),
    field('Token', input),
    h('div', { class: 'row' }, copy),
    h('p', { class: 'small muted' }, 'REST and /io: ', h('code', { text: 'Authorization: Bearer <token>' }), '. WebDAV and SFTP: username ', h('code', { text: owner }), ', the token as the password.'),
    h('div', { class: 'actions' }, done),
  );
  queueMicrotask(() => copy.focus());
}
