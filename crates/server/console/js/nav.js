// Navigation between pages, kept apart from app.js so that pages can move the user
// without importing the router.

let keep = false;

/** Shows the page at `hash` (renders again when it is already there). */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Keeps the message bar across the next page change (a message that led there). */
export function keepMessage() {
  keep = true;
}

/** Whether the message bar should stay for this page change; resets the flag. */
export function takeKeep() {
  const kept = keep;
  keep = false;
  return kept;
}
