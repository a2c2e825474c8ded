// Scenario of the console's token lifecycle. A standard user (bob), in My tokens:
// rotates a token with a grace of 1 hour (the new secret shown once; the old one still
// works), then with none (the old ones are refused); makes a token limited to
// 192.0.2.0/24 (after a malformed block the server refuses in the form), which is
// refused from 127.0.0.1, and one limited to loopback and REST, which works on REST
// and is refused on /io; sees the "expires soon" badge, the activity of a token (and an
// empty one), and the leak mark after a leak report. Then the admin sets the token
// policy on the People page, sees on bob's page the leak mark and the token beyond the
// policy, and a creation beyond it refused with the rule's name.
//
// Env: CELLS_URL, CELLS_LOGIN, CELLS_PASSWORD (a standard user), CELLS_ADMIN_PASSWORD.

import { check, clipboard, eventually, fail, http, need, see, signIn, start } from './lib.mjs';

const login = need('CELLS_LOGIN');
const password = need('CELLS_PASSWORD');
const adminPassword = need('CELLS_ADMIN_PASSWORD');
const { page, shot, finish } = await start('life');
const FORMAT = /^cpat_[0-9A-Za-z]{49}$/;
const ROTATED = 'Rotate me ü #1';
const ELSEWHERE = 'Elsewhere only';
const LOOPBACK = 'Loopback, REST only';

const row = (label) => page.locator('tr[data-token]').filter({ has: page.getByText(label, { exact: true }) });
const status = async (token, path = '/a/tree/') => (await http('GET', path, { token })).status;
const statusSoon = async (token, wanted) => (await eventually(async () => {
  const got = await status(token);
  return { ok: got === wanted, got };
})).got;

/** Fills the + form (the dialog must be open) and creates; returns the copied secret. */
async function create(label, days, { ips, rest } = {}) {
  const form = page.locator('dialog');
  await form.getByLabel('Label', { exact: true }).fill(label);
  await form.getByLabel('Expires in').fill(String(days));
  if (ips !== undefined) await form.getByLabel('Allowed addresses').fill(ips);
  if (rest) await form.getByLabel('REST API').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByRole('heading', { name: 'Token created' }).waitFor();
  await page.getByRole('button', { name: 'Copy token' }).click();
  await see(page, 'Copied');
  const secret = await clipboard(page);
  check(FORMAT.test(secret), `“${label}” was created and its secret copied`);
  await page.getByRole('button', { name: 'Done' }).click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  await row(label).waitFor();
  return secret;
}

/** Rotates `label` with the grace choice `grace`; returns the new secret, shown once. */
async function rotate(label, grace) {
  await row(label).getByRole('button', { name: `Rotate ${label}` }).click();
  const dialog = page.getByRole('dialog', { name: `Rotate “${label}”` });
  await dialog.waitFor();
  await dialog.getByLabel(grace).check();
  await shot(`rotate-${grace.split(':')[0].replace(/\W+/g, '-')}`);
  await dialog.getByRole('button', { name: 'Rotate', exact: true }).click();
  const shown = page.getByRole('dialog', { name: 'Token rotated' });
  await shown.waitFor();
  check(await shown.locator('.warning').innerText().then((t) => t.includes('it will not be shown again')), 'the new secret comes with the warning that it is shown once');
  await shown.getByRole('button', { name: 'Copy token' }).click();
  await see(shown, 'Copied');
  const secret = await clipboard(page);
  check(FORMAT.test(secret) && secret === await shown.locator('#new-token').inputValue(), 'the rotated secret is shown and copied');
  await shot(`rotated-${grace.split(':')[0].replace(/\W+/g, '-')}`);
  await shown.getByRole('button', { name: 'Done' }).click();
  await page.locator('dialog').waitFor({ state: 'detached' });
  check(await page.locator('#new-token, .secret').count() === 0, 'once the dialog is closed the secret is nowhere on the page');
  return secret;
}

/** The activity dialog of `label`: its rows as {hour, ip, via, uses}. */
async function activity(label) {
  await row(label).getByRole('button', { name: `Activity of ${label}` }).click();
  const dialog = page.getByRole('dialog', { name: `Activity of “${label}”` });
  await dialog.waitFor();
  await dialog.locator('table, .empty').first().waitFor();
  const rows = await dialog.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => {
    const cell = (name) => tr.querySelector(`td[data-label="${name}"]`).textContent;
    return { hour: cell('Hour'), ip: cell('Address'), via: cell('Protocol'), uses: Number(cell('Uses')) };
  }));
  return { dialog, rows };
}

try {
  await signIn(page, login, password);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  await page.getByRole('link', { name: 'My tokens' }).click();
  await see(page, 'No personal access tokens yet.');

  // Rotation, with a grace of one hour, then with none.
  await page.getByRole('button', { name: 'New token' }).click();
  const first = await create(ROTATED, 30);
  check(await status(first) === 200, 'the first secret works');
  check(await row(ROTATED).getByText('Any address').isVisible() && await row(ROTATED).getByText('Any protocol').isVisible(), 'a token without limits says any address, any protocol');
  const second = await rotate(ROTATED, '1 hour');
  check(second !== first, 'rotation gives a new secret');
  check(await status(second) === 200, 'the new secret works');
  check(await status(first) === 200, 'the old secret still works during the grace');
  await see(row(ROTATED), 'old secret valid until');
  await shot('rotated-with-grace');
  const third = await rotate(ROTATED, 'None: the old secret is refused at once');
  check(await status(third) === 200, 'the secret of the second rotation works');
  check(await statusSoon(second, 401) === 401, 'after a rotation without grace the previous secret is a 401');
  check(await statusSoon(first, 401) === 401, 'and so is the first one');
  await see(row(ROTATED), 'old secret refused');
  const put = await http('PUT', '/io/personal-files/written%20by%20the%20rotated%20token.txt', { token: third, body: 'rotated\n' });
  check(put.status === 201 || put.status === 200, `a token without limits writes through /io: ${put.status}`);

  // An address limit: a malformed block is refused by the server, in the form.
  await page.getByRole('button', { name: 'New token' }).click();
  await page.locator('dialog').getByLabel('Allowed addresses').fill('192.0.2.0/33');
  await page.locator('dialog').getByLabel('Label', { exact: true }).fill(ELSEWHERE);
  await page.getByRole('button', { name: 'Create token' }).click();
  const alert = page.locator('dialog [role="alert"]');
  await see(alert, '192.0.2.0/33');
  check((await alert.innerText()).includes('not an address or a block'), `the server's message for a malformed block shows in the form: ${await alert.innerText()}`);
  await shot('limit-refused');
  const elsewhere = await create(ELSEWHERE, 30, { ips: '192.0.2.0/24' });
  check(await status(elsewhere) === 401, 'a token limited to 192.0.2.0/24 is refused from 127.0.0.1');
  check(await row(ELSEWHERE).getByText('192.0.2.0/24', { exact: true }).isVisible(), 'its row shows the address limit');

  await page.getByRole('button', { name: 'New token' }).click();
  const loopback = await create(LOOPBACK, 2, { ips: '127.0.0.0/8,\n::1', rest: true });
  check(await status(loopback) === 200 && await status(loopback) === 200, 'a token limited to 127.0.0.0/8 and REST works on REST (twice)');
  const io = await http('PUT', '/io/personal-files/via%20io.txt', { token: loopback, body: 'no\n' });
  check(io.status === 401, `and is refused on /io: ${io.status}`);
  const loopRow = row(LOOPBACK);
  check(await loopRow.getByText('127.0.0.0/8', { exact: true }).isVisible() && await loopRow.getByText('only REST API').isVisible(), 'its row shows the addresses and the protocol');
  check(await loopRow.locator('.badge.soon').innerText() === 'expires soon', 'a token expiring in 2 days has the expires-soon badge');
  check(await row(ROTATED).locator('.badge.soon').count() === 0, 'one expiring in 30 days has none');

  // Activity: the two uses, from 127.0.0.1 on REST; none for the refused token.
  await page.getByRole('link', { name: 'My tokens' }).click(); // read the table again
  await row(LOOPBACK).waitFor();
  const used = await activity(LOOPBACK);
  const uses = used.rows.reduce((sum, r) => sum + r.uses, 0);
  check(uses === 2 && used.rows.every((r) => r.ip === '127.0.0.1' && r.via === 'REST API'), `the activity shows the 2 uses from 127.0.0.1 on REST: ${JSON.stringify(used.rows)}`);
  await shot('activity');
  await used.dialog.getByRole('button', { name: 'Close' }).click();
  const none = await activity(ELSEWHERE);
  check(none.rows.length === 0 && await none.dialog.getByText('No use in the last 30 days.').isVisible(), 'a token only ever refused has no activity, and says so');
  await page.keyboard.press('Escape');
  await page.locator('dialog').waitFor({ state: 'detached' });

  // A leak report (no login) revokes the token and marks it.
  const report = await http('POST', '/a/auth/tokens/leaked', { body: JSON.stringify({ Tokens: [third] }) });
  check(report.status === 200 && JSON.parse(report.text).Revoked === 1, `the leak report revoked one token: ${report.text}`);
  check(await statusSoon(third, 401) === 401, 'the leaked token is refused');
  await page.reload();
  await row(ROTATED).waitFor();
  const leakedRow = row(ROTATED);
  check(await leakedRow.locator('.badge.leaked').innerText() === 'leaked', 'the owner sees the token as leaked');
  check((await leakedRow.locator('.leak').innerText()).includes('from 127.0.0.1'), 'with when and from where it was reported');
  check(await leakedRow.getByRole('button', { name: `Rotate ${ROTATED}` }).count() === 0 && await leakedRow.getByRole('button', { name: `Revoke ${ROTATED}` }).count() === 0, 'a leaked token can be neither rotated nor revoked again');
  await shot('my-tokens-leaked');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The admin: the token policy, then bob's page.
  await signIn(page, 'admin', adminPassword);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People' }).click();
  const policy = page.getByRole('region', { name: 'Token policy' });
  await see(policy, 'no limit on validity');
  await policy.getByRole('button', { name: 'Edit policy' }).click();
  const editor = page.getByRole('dialog', { name: 'Token policy' });
  await editor.getByLabel('Longest validity (optional)', { exact: true }).fill('7');
  check(await editor.getByLabel('Longest validity (optional): unit').inputValue() === '86400', 'the unit is days by default');
  await editor.getByLabel('Allowed anyway (logins)').fill('Carol, dave');
  await shot('policy-edit');
  await editor.getByRole('button', { name: 'Save policy' }).click();
  await see(policy, 'valid for at most 7 d');
  check((await policy.innerText()).includes('allowed anyway: carol, dave'), 'the panel shows the saved policy');
  await shot('people-policy');

  await page.locator(`tr[data-login="${login}"] a`).first().click();
  await row(ROTATED).waitFor();
  check((await row(ROTATED).locator('.leak').innerText()).includes('Reported leaked'), 'the admin sees the leak mark too');
  const beyond = row(ELSEWHERE).locator('.beyond-policy');
  check((await beyond.innerText()).includes('beyond policy') && (await beyond.innerText()).includes('MaxExpiresIn'), 'a 30-day token made before the policy is flagged beyond it, by rule');
  check(await row(LOOPBACK).locator('.beyond-policy').count() === 0, 'a 2-day one is within it');
  await shot('person-tokens-policy');
  await page.getByRole('button', { name: 'New token' }).click();
  await page.getByRole('dialog', { name: `New token for ${login}` }).waitFor();
  await see(page.locator('dialog .policy-note'), 'valid for at most 7 d');
  await page.getByRole('button', { name: 'Create token' }).click();
  await see(page.locator('dialog [role="alert"]'), 'MaxExpiresIn');
  check((await page.locator('dialog [role="alert"]').innerText()).includes('7d'), 'a creation beyond the policy is refused, naming the rule and what it allows');
  await shot('beyond-policy-refused');
  await page.getByRole('button', { name: 'Cancel' }).click();

  console.log(`RESULT ${JSON.stringify({ grace: 200, afterRotation: 401, elsewhere: 401, loopback: 200, io: io.status, uses })}`);
} catch (err) {
  await shot('failure').catch(() => {});
  fail(err.stack || String(err));
}
await finish();
