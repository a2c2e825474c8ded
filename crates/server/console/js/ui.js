// DOM helpers shared by the pages: element building (createElement and textContent only, so nothing a server
// or user wrote is ever parsed as markup), messages, dialogs, copy buttons, and the
// formatting of sizes, times and durations.

/**
 * `h('button', {class: 'primary', onclick: f}, 'Save')`. Props: `class`, `text`,
 * `on*` listeners, `for`, boolean `hidden`/`disabled`/`checked`/`required`, `value`,
 * and anything else as an attribute (`aria-*`, `data-*`, `type`, `name`).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'for') el.htmlFor = value;
    else if (['hidden', 'disabled', 'checked', 'required', 'selected', 'multiple'].includes(key)) el[key] = true;
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children as `h` takes them: nested arrays, strings; null and false skipped. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled field: `{label, input, hint}`; the input gets an id if it has none. */
export function field(label, input, hint) {
  if (!input.id) input.id = uid('f');
  const parts = [h('label', { for: input.id, text: label }), input];
  if (hint) {
    const hintEl = h('div', { class: 'hint', id: `${input.id}-hint`, text: hint });
    input.setAttribute('aria-describedby', hintEl.id);
    parts.push(hintEl);
  }
  return h('div', { class: 'field' }, parts);
}

// The message bar under the header.
const flash = () => document.getElementById('flash');

export function showError(err) {
  const text = err && err.detail ? err.detail : String((err && err.message) || err);
  const box = flash();
  box.className = 'flash error';
  box.setAttribute('role', 'alert');
  clear(box, h('span', { text: capital(text) }), h('button', { class: 'link', type: 'button', text: 'Dismiss', onclick: hideFlash }));
  box.hidden = false;
}

export function showInfo(text) {
  const box = flash();
  box.className = 'flash info';
  box.setAttribute('role', 'status');
  clear(box, h('span', { text }), h('button', { class: 'link', type: 'button', text: 'Dismiss', onclick: hideFlash }));
  box.hidden = false;
}

export function hideFlash() {
  const box = flash();
  box.hidden = true;
  box.replaceChildren();
}

/** An error shown inside a form or dialog, beside what failed. */
export function errorBox() {
  const box = h('div', { class: 'error-box', role: 'alert', hidden: true });
  box.show = (err) => {
    box.textContent = capital(err && err.detail ? err.detail : String((err && err.message) || err));
    box.hidden = false;
    box.scrollIntoView({ block: 'nearest' });
  };
  box.reset = () => {
    box.hidden = true;
    box.textContent = '';
  };
  return box;
}

export function capital(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/**
 * A modal `<dialog>`: `build(dialog, close, heading)` fills it; resolves with what
 * `close` got. `heading(text)` makes the dialog's title, which names the dialog
 * (`aria-labelledby`): a heading that replaces it later, such as "Token created" after
 * "New token", renames the dialog with it.
 */
export function modal(build) {
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const dialog = h('dialog', { 'aria-labelledby': titleId });
    const heading = (text) => h('h2', { id: titleId, text });
    let result = null;
    const close = (value) => {
      result = value;
      dialog.close();
    };
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    build(dialog, close, heading);
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector('[autofocus], input, select, button.primary, button');
    if (first) first.focus();
  });
}

/** Asks before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(title, message, action = 'Delete') {
  return modal(
    (dialog, close, heading) => {
      const yes = h('button', { type: 'button', class: 'danger solid', text: action, onclick: () => close(true) });
      append(
        dialog,
        heading(title),
        h('p', { text: message }),
        h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(false) }), yes),
      );
      queueMicrotask(() => yes.focus());
    },
  ).then(Boolean);
}

/** Asks for one line of text; resolves with it, or null when cancelled. */
export function promptDialog(title, label, value = '', action = 'Save') {
  return modal(
    (dialog, close, heading) => {
      const input = h('input', { type: 'text', value, required: true, autocomplete: 'off' });
      const form = h(
        'form',
        { onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) close(input.value.trim()); } },
        heading(title),
        field(label, input),
        h('div', { class: 'actions' }, h('button', { type: 'button', text: 'Cancel', onclick: () => close(null) }), h('button', { type: 'submit', class: 'primary', text: action })),
      );
      append(dialog, form);
      queueMicrotask(() => { input.focus(); input.select(); });
    },
  );
}

/** Copies `text` to the clipboard; says so on the button. */
export async function copyText(text, button) {
  const original = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed: select and press Ctrl+C';
  }
  setTimeout(() => { button.textContent = original; }, 2000);
}

export function copyButton(text, what) {
  const button = h('button', { type: 'button', class: 'small', text: 'Copy', 'aria-label': `Copy ${what}` });
  button.addEventListener('click', () => copyText(typeof text === 'function' ? text() : text, button));
  return button;
}

export function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relativeFormat = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** Unix seconds as a local date and time. */
export function dateTime(unix) {
  return dateFormat.format(new Date(unix * 1000));
}

/**
 * Unix seconds relative to now: "in 3 days", "5 minutes ago". Each unit takes over a
 * little before the next whole one, so that 23 h 59 min reads "in 1 day".
 */
export function relative(unix, now = Date.now() / 1000) {
  const delta = unix - now;
  const magnitude = Math.abs(delta);
  const steps = [
    [45 * 60, 'minute', 60],
    [22 * 3600, 'hour', 3600],
    [26 * 86400, 'day', 86400],
    [320 * 86400, 'month', 30 * 86400],
    [Infinity, 'year', 365 * 86400],
  ];
  if (magnitude < 45) return delta < 0 ? 'just now' : 'in a few seconds';
  const [, unit, divisor] = steps.find(([limit]) => magnitude < limit);
  const count = Math.max(1, Math.round(magnitude / divisor));
  return relativeFormat.format(delta < 0 ? -count : count, unit);
}

/** A number of seconds as the largest whole units: "2 d", "1 h 30 min", "45 s". */
export function duration(seconds) {
  const parts = [];
  let left = seconds;
  for (const [unit, name] of [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']]) {
    if (left >= unit) {
      parts.push(`${Math.floor(left / unit)} ${name}`);
      left %= unit;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ') || '0 s';
}

/** A table with a head; rows become labelled cards on narrow screens. */
export function table(columns, rows, caption) {
  const head = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', text: c }))));
  const body = h('tbody', {}, rows);
  return h('table', { class: 'cards', 'aria-label': caption }, head, body);
}

/** A cell whose column name shows on narrow screens. */
export function td(label, ...children) {
  // One wrapper, so that the cell's parts stack inside it on narrow screens too.
  return h('td', { 'data-label': label }, h('div', { class: 'cell' }, children));
}
