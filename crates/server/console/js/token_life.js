// What happens to a token after it is made, besides revocation: rotation (a new secret,
// shown once, while the old one keeps working for a grace the user picks) and its
// activity (per hour, the addresses and protocols that used it, for 30 days).

import { call } from './api.js';
import { showSecret } from './token_form.js';
import { VIA } from './token_cells.js';
import {
  append, clear, dateTime, errorBox, h, modal, table, td,
} from './ui.js';

const GRACES = [
  ['0', 'None: the old secret is refused at once'],
  ['3600', '1 hour'],
  ['86400', '1 day'],
  ['604800', '7 days'],
];
const VIA_NAMES = Object.fromEntries(VIA);

/** Asks for a grace, rotates, shows the new secret once; resolves true when rotated. */
export function rotateDialog(token, { owner, self }) {
  return modal((dialog, close, heading) => {
    const error = errorBox();
    const choices = GRACES.map(([value, text]) => {
      const radio = h('input', { type: 'radio', name: 'grace', value, id: `grace-${value}`, checked: value === '3600' });
      return h('label', { class: 'choice', for: radio.id }, radio, text);
    });
    const submit = h('button', { type: 'submit', class: 'primary', text: 'Rotate' });
    let rotated = false;
    const form = h(
      'form',
      {
        onsubmit: async (event) => {
          event.preventDefault();
          error.reset();
          const grace = Number(form.elements.grace.value);
          submit.disabled = true;
          try {
            const answer = await call('POST', `/a/auth/tokens/${encodeURIComponent(token.Uuid)}/rotate`, { GraceSeconds: grace });
            rotated = true;
            const note = grace > 0
              ? `The old secret keeps working until ${dateTime(Date.now() / 1000 + grace)}: move every client to the new one before then.`
              : 'The old secret is refused from now on.';
            showSecret(dialog, close, heading, answer.AccessToken, owner, self, { title: 'Token rotated', note });
          } catch (err) {
            error.show(err);
            submit.disabled = false;
          }
        },
      },
      heading(`Rotate “${token.Label}”`),
      h('p', { text: 'Rotation gives the token a new secret, shown once. Label, scopes, limits and expiry stay as they are.' }),
      error,
      h('fieldset', {}, h('legend', { text: 'The old secret keeps working for' }), choices),
      h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(false) }), submit),
    );
    append(dialog, form);
    // Escape after the rotation still reloads the table: the record changed.
    dialog.addEventListener('cancel', (e) => { if (rotated) { e.preventDefault(); close(true); } });
  });
}

/** The activity of `token`, in a dialog: hour, address, protocol, count. */
export function activityDialog(token) {
  return modal((dialog, close, heading) => {
    const body = h('div', {}, h('p', { class: 'loading', text: 'Loading activity…' }));
    const done = h('button', { type: 'button', class: 'primary', text: 'Close', onclick: () => close(null) });
    append(
      dialog,
      heading(`Activity of “${token.Label}”`),
      h('p', { class: 'small muted', text: 'Each hour the token was used in the last 30 days: from which address, through which protocol, how many times. Refused requests are not counted.' }),
      body,
      h('div', { class: 'actions' }, done),
    );
    call('GET', `/a/auth/tokens/${encodeURIComponent(token.Uuid)}/activity`).then(
      (answer) => {
        const rows = [...answer.Activity].sort((a, b) => b.Hour - a.Hour || a.Ip.localeCompare(b.Ip));
        if (rows.length === 0) {
          clear(body, h('p', { class: 'empty', text: 'No use in the last 30 days.' }));
          return;
        }
        clear(body, table(['Hour', 'Address', 'Protocol', 'Uses'], rows.map((row) => h(
          'tr',
          {},
          td('Hour', dateTime(row.Hour)),
          td('Address', h('span', { class: 'mono', text: row.Ip })),
          td('Protocol', VIA_NAMES[row.Via] || row.Via),
          td('Uses', String(row.Count)),
        )), `Activity of ${token.Label}`));
      },
      (err) => clear(body, h('div', { class: 'error-box', role: 'alert', text: err.detail || String(err) })),
    );
  });
}
