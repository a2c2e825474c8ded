// The cells of a credential's row, shared by the token table and the SSH key table:
// scopes as paths, the expiration model, the expiry with its "expires soon" badge, the
// limits (addresses, protocols), last use, and the status with what happened to it
// (revoked, reported leaked, rotated with a grace, beyond the token policy).

import { pathOf } from './tree.js';
import { dateTime, duration, h, relative } from './ui.js';

const RIGHTS = { r: 'read only', w: 'write only', rw: 'read and write', wr: 'read and write' };
export const UNITS = [['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];
/** Protocol names as the API spells them, and as people read them. */
export const VIA = [['rest', 'REST API'], ['io', '/io'], ['webdav', 'WebDAV'], ['sftp', 'SFTP'], ['s3', 'S3']];
const VIA_NAMES = Object.fromEntries(VIA);
/** The rules of the token policy, as the API names them in BeyondPolicy. */
export const RULES = {
  MaxExpiresIn: 'valid for longer than the policy allows',
  MaxAutoRefresh: 'refresh window longer than the policy allows',
  AutoRefreshNeedsCap: 'auto refresh without a "never valid after" date',
  ScopesForOthers: 'made for someone else without a scope',
};

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

/** When it expires, how far off, and a badge when that is within 7 days. */
export function expires(token) {
  const ended = token.Status === 'revoked' || token.Status === 'leaked';
  return [
    h('div', { class: ended ? 'muted' : '', text: dateTime(token.ExpiresAt) }),
    h('div', { class: 'small muted', text: ended ? 'revoked: never again' : relative(token.ExpiresAt) }),
    token.ExpiresSoon ? h('span', { class: 'badge soon', text: 'expires soon' }) : null,
  ];
}

/** The addresses and protocols a token is limited to. */
export function limits(token) {
  const ips = token.AllowedIps || [];
  const via = token.AllowedVia || [];
  return [
    ips.length
      ? h('ul', { class: 'plain', 'aria-label': 'Allowed addresses' }, ips.map((ip) => h('li', { class: 'mono small', text: ip })))
      : h('div', { class: 'muted', text: 'Any address' }),
    h('div', { class: via.length ? 'small' : 'small muted', text: via.length ? `only ${via.map((v) => VIA_NAMES[v] || v).join(', ')}` : 'Any protocol' }),
  ];
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

/** The old secret of a rotated token: still valid until when, or refused. */
function rotation(token, now) {
  if (!token.RotatedAt) return null;
  const text = token.GraceEndsAt && token.GraceEndsAt > now && token.Status === 'active'
    ? `rotated ${relative(token.RotatedAt)}, old secret valid until ${dateTime(token.GraceEndsAt)}`
    : `rotated ${dateTime(token.RotatedAt)}, old secret refused`;
  return h('div', { class: 'small rotated', text });
}

export function status(token, now = Date.now() / 1000) {
  const parts = [h('span', { class: `badge ${token.Status}`, text: token.Status })];
  if (token.Leaked) {
    parts.push(h('div', { class: 'small leak', role: 'note' },
      h('strong', { text: 'Reported leaked ' }), `${dateTime(token.Leaked.At)}, from ${token.Leaked.By}: revoked at once.`));
  } else if (token.RevokedAt) {
    parts.push(h('div', { class: 'small muted', text: dateTime(token.RevokedAt) }));
  }
  parts.push(rotation(token, now));
  if (token.BeyondPolicy && token.BeyondPolicy.length) {
    parts.push(h('div', { class: 'beyond-policy' },
      h('span', { class: 'badge beyond', text: 'beyond policy' }),
      h('ul', { class: 'plain small' }, token.BeyondPolicy.map((rule) => h('li', {}, h('code', { text: rule }), RULES[rule] ? `: ${RULES[rule]}` : '')))));
  }
  if (token.LastFailureAt) {
    // Why the server last refused it (expired, revoked, rotated, address, wrong login, user locked).
    const why = token.LastFailureReason ? `: ${token.LastFailureReason}` : '';
    parts.push(h('div', { class: 'small muted', title: dateTime(token.LastFailureAt), text: `refused ${relative(token.LastFailureAt)}${why}` }));
  }
  return parts;
}
