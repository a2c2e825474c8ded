// The token policy (GET|PUT /a/auth/token-policy): how long a new token or SSH key may
// live, whether auto refresh needs a cap, whether a token for someone else needs a
// scope, who may make their own. Admins see and edit it on the People page; every
// creation form shows the limits in force, so nobody learns them from a refusal.

import { call } from './api.js';
import {
  append, clear, duration, errorBox, field, h, modal, showInfo,
} from './ui.js';

const UNITS = [['1', 'seconds'], ['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];

/** Self-service exceptions as "bob (allowed)" / "carol (refused)". */
function exceptions(users, allowed) {
  return Object.entries(users || {}).filter(([, yes]) => yes === allowed).map(([login]) => login);
}

/** The rules of `policy` in words, one line each; empty for the open policy. */
export function policyLines(policy) {
  const lines = [];
  if (policy.MaxExpiresIn) lines.push(`valid for at most ${duration(policy.MaxExpiresIn)}`);
  if (policy.MaxAutoRefresh) lines.push(`auto-refresh windows of at most ${duration(policy.MaxAutoRefresh)}`);
  if (policy.AutoRefreshNeedsCap) lines.push('auto refresh needs a "never valid after" date');
  if (policy.ScopesForOthers) lines.push('a token made for someone else needs a scope');
  return lines;
}

/** A line for creation forms: the policy's limits, filled once loaded (hidden if none). */
export function policyNote() {
  const note = h('p', { class: 'small policy-note', hidden: true });
  call('GET', '/a/auth/token-policy').then((policy) => {
    const lines = policyLines(policy);
    if (lines.length === 0) return;
    note.textContent = `The token policy asks for: ${lines.join('; ')}.`;
    note.hidden = false;
  }, () => {});
  return note;
}

/** Seconds (or null) as a number and the largest unit that divides it. */
function amountField(label, seconds, hint) {
  const [unitValue] = [...UNITS].reverse().find(([size]) => seconds && seconds % Number(size) === 0) || ['86400'];
  const amount = h('input', { type: 'number', min: '1', step: '1', value: seconds ? String(seconds / Number(unitValue)) : '' });
  const unit = h('select', { 'aria-label': `${label}: unit` }, UNITS.map(([value, text]) => h('option', { value, text, selected: value === unitValue })));
  const wrap = field(label, amount, hint);
  wrap.querySelector('label').after(h('div', { class: 'row' }, amount, unit));
  /** null when empty; NaN when not a whole number of at least 1. */
  wrap.seconds = () => {
    if (!amount.value.trim()) return null;
    const count = Number(amount.value);
    return Number.isInteger(count) && count >= 1 ? count * Number(unit.value) : NaN;
  };
  wrap.focus = () => amount.focus();
  return wrap;
}

function logins(text) {
  return text.split(/[\s,;]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
}

function editPolicyDialog(policy) {
  return modal((dialog, close, heading) => {
    const error = errorBox();
    const maxExpires = amountField('Longest validity (optional)', policy.MaxExpiresIn, 'For a hard limit, and for the cap of an auto refresh. Empty: no limit.');
    const maxWindow = amountField('Longest auto-refresh window (optional)', policy.MaxAutoRefresh, 'Empty: no limit.');
    const box = (name, checked, text) => h('label', { class: 'choice' }, h('input', { type: 'checkbox', name, checked }), text);
    const needsCap = box('needs-cap', policy.AutoRefreshNeedsCap, 'Auto refresh needs a "never valid after" date');
    const scopes = box('scopes-for-others', policy.ScopesForOthers, 'A token an admin makes for someone else needs a scope');
    const selfService = box('self-service', policy.SelfService, 'Users may make their own tokens and SSH keys');
    const allowed = h('textarea', { rows: '2', spellcheck: 'false', value: exceptions(policy.SelfServiceUsers, true).join(', ') });
    const refused = h('textarea', { rows: '2', spellcheck: 'false', value: exceptions(policy.SelfServiceUsers, false).join(', ') });
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Save policy' });
    const form = h(
      'form',
      {
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          error.reset();
          const next = {
            MaxExpiresIn: maxExpires.seconds(),
            MaxAutoRefresh: maxWindow.seconds(),
            AutoRefreshNeedsCap: needsCap.firstChild.checked,
            ScopesForOthers: scopes.firstChild.checked,
            SelfService: selfService.firstChild.checked,
            SelfServiceUsers: {},
          };
          for (const [wrap, value] of [[maxExpires, next.MaxExpiresIn], [maxWindow, next.MaxAutoRefresh]]) {
            if (Number.isNaN(value)) {
              error.show(`${wrap.querySelector('label').textContent}: a whole number, at least 1, or empty.`);
              wrap.focus();
              return;
            }
          }
          for (const login of logins(allowed.value)) next.SelfServiceUsers[login] = true;
          for (const login of logins(refused.value)) next.SelfServiceUsers[login] = false;
          submit.disabled = true;
          try {
            close(await call('PUT', '/a/auth/token-policy', next));
          } catch (err) {
            error.show(err);
            submit.disabled = false;
          }
        },
      },
      heading('Token policy'),
      h('p', { class: 'small muted', text: 'Applies to new tokens and SSH keys, whoever makes them. Existing ones keep working; the tables flag those beyond the policy.' }),
      error,
      maxExpires,
      maxWindow,
      h('fieldset', {}, h('legend', { text: 'Rules' }), h('div', { class: 'stack' }, needsCap, scopes)),
      h('fieldset', {},
        h('legend', { text: 'Self-service' }),
        selfService,
        field('Allowed anyway (logins)', allowed, 'Comma or newline separated.'),
        field('Refused anyway (logins)', refused)),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(null) }), submit),
    );
    append(dialog, form);
  });
}

/** The admin's panel: the policy in words and an Edit button; `.load()` fills it. */
export function policyPanel() {
  const body = h('div', {}, h('p', { class: 'loading', text: 'Loading the token policy…' }));
  const edit = h('button', { type: 'button', text: 'Edit policy', disabled: true });
  const panel = h('section', { 'aria-labelledby': 'policy-title', class: 'policy' },
    h('div', { class: 'page-head' }, h('h2', { id: 'policy-title', text: 'Token policy' }), edit),
    body);
  let policy = null;
  const draw = () => {
    const lines = policyLines(policy);
    const allowed = exceptions(policy.SelfServiceUsers, true);
    const refused = exceptions(policy.SelfServiceUsers, false);
    let self = policy.SelfService ? 'Users make their own tokens and keys' : 'Only admins make tokens and keys';
    if (allowed.length) self += `; allowed anyway: ${allowed.join(', ')}`;
    if (refused.length) self += `; refused anyway: ${refused.join(', ')}`;
    clear(body, h('ul', { class: 'policy-rules' },
      (lines.length ? lines : ['no limit on validity, windows or scopes']).map((line) => h('li', { text: line })),
      h('li', { text: `${self}.` })));
  };
  panel.load = async () => {
    try {
      policy = await call('GET', '/a/auth/token-policy');
      edit.disabled = false;
      draw();
    } catch (err) {
      clear(body, h('div', { class: 'error-box', role: 'alert', text: err.detail || String(err) }));
    }
  };
  edit.addEventListener('click', async () => {
    const saved = await editPolicyDialog(policy);
    edit.focus();
    if (saved) {
      policy = saved;
      draw();
      showInfo('The token policy is saved: it applies to the next tokens and keys made.');
    }
  });
  return panel;
}
