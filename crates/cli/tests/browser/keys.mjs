// Scenario 3 of the console: an admin registers an SSH public key for a user on their
// page (People → the user → SSH keys): a malformed key is refused with a clear message
// and nothing registered; the key registered shows its fingerprint, never the key; the
// admin revokes it and its row says so. My tokens has the admin's own keys (none).
//
// Env: CELLS_URL, CELLS_ADMIN_PASSWORD, CELLS_LOGIN (the user), PUBLIC_KEY (one line of
// a .pub file), FINGERPRINT (as ssh-keygen -l prints it).

import { check, fail, gone, need, see, signIn, start } from './lib.mjs';

const password = need('CELLS_ADMIN_PASSWORD');
const login = need('CELLS_LOGIN');
const publicKey = need('PUBLIC_KEY');
const fingerprint = need('FINGERPRINT');
const { page, shot, finish } = await start('keys');

try {
  await page.goto(`${process.env.CELLS_URL}/`);
  await signIn(page, 'admin', password);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  await page.goto(`${process.env.CELLS_URL}/#/people/${encodeURIComponent(login)}`);
  await page.getByRole('heading', { name: 'SSH keys' }).waitFor();
  await see(page, 'No SSH keys yet.');
  check(true, 'the user page has an SSH keys section');
  await shot('person-no-keys');

  // A malformed key: a clear message, and the dialog stays.
  await page.getByRole('button', { name: 'New SSH key' }).click();
  const dialog = page.locator('dialog');
  await see(dialog, `New SSH key for ${login}`);
  check(true, 'the form names the user');
  await page.getByLabel('Public key').fill('ssh-ed25519 not-a-key');
  await page.getByRole('button', { name: 'Register key' }).click();
  await see(dialog.locator('[role="alert"]'), 'not an OpenSSH public key');
  check(true, 'a malformed key is refused with a clear message');
  check(!(await dialog.locator('[role="alert"]').innerText()).includes('not-a-key'), 'the message does not repeat the key');

  // A bad scope is caught before sending.
  await page.getByLabel('Public key').fill(publicKey);
  await page.getByLabel('Scopes (optional)').fill('node:nope:r');
  await page.getByRole('button', { name: 'Register key' }).click();
  await see(dialog.locator('[role="alert"]'), 'is not a scope');
  check(true, 'a bad scope is refused in the form');
  await page.getByLabel('Scopes (optional)').fill('');

  // Registered: auto refresh, 2 hours, labelled.
  await page.getByLabel('Label (optional)').fill('Laptop Ü #1');
  await page.getByLabel('Auto refresh').check();
  await page.getByLabel('Refresh window').fill('2');
  await page.getByLabel('Unit').selectOption({ label: 'hours' });
  await shot('new-key-form');
  await page.getByRole('button', { name: 'Register key' }).click();
  await gone(page.locator('dialog'), 'the dialog closed once the key was registered');
  const row = page.locator('tr[data-key]');
  await row.waitFor();
  check(await row.count() === 1, 'one key listed');
  const text = await row.innerText();
  check(text.includes('Laptop Ü #1') && text.includes(fingerprint), `the row shows the label and the fingerprint: ${text}`);
  check(!text.includes(publicKey.split(' ')[1]), 'the row never shows the key itself');
  check(text.includes('Auto refresh') && text.includes('active'), 'the row shows the model and the status');
  const uuid = await row.getAttribute('data-key');
  await shot('person-one-key');

  // Revoked in the UI.
  await page.getByRole('button', { name: 'Revoke SSH key Laptop Ü #1' }).click();
  await see(page.locator('dialog'), 'open SFTP sessions with it are closed');
  await page.locator('dialog').getByRole('button', { name: 'Revoke' }).click();
  await see(row, 'revoked');
  check(await page.getByRole('button', { name: 'Revoke SSH key Laptop Ü #1' }).count() === 0, 'a revoked key has no Revoke button');
  await shot('person-key-revoked');

  // My tokens lists one's own keys, under the tokens: none for the admin.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My tokens' }).click();
  await page.getByRole('heading', { name: 'SSH keys' }).waitFor();
  await see(page, 'No SSH keys yet.');
  check(await page.locator('tr[data-key]').count() === 0, "My tokens does not list alice's key to the admin");
  await page.getByRole('button', { name: 'New SSH key' }).click();
  await see(page.locator('dialog'), 'New SSH key');
  check(!(await page.locator('dialog').innerText()).includes('for admin'), 'for oneself, the form names no one');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await shot('my-tokens-keys');

  console.log(`RESULT ${JSON.stringify({ uuid })}`);
} catch (err) {
  await shot('failure').catch(() => {});
  fail(err.stack || String(err));
}
await finish();
