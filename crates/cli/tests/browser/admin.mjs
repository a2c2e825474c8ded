// Scenario 1 of the console: an admin signs in (after one wrong password), creates a
// user, creates for them an auto-refresh token scoped read-write to a folder picked by
// browsing, copies it; the token works inside the scope and is refused outside. In My
// tokens the admin sees their own tokens only, and makes one. The admin revokes the
// user's token in the UI and the next request with it is refused. Ends with the
// throttled sign-in message.
//
// Env: CELLS_URL, CELLS_ADMIN_PASSWORD, SCOPE_FOLDER (a folder the test made, e.g.
// "/common-files/Team Ü #1", holding inside.txt), OUTSIDE_FILE (a file outside it).

import { check, clipboard, eventually, fail, gapAt390, gone, http, inAWeek, need, see, signIn, start, url } from './lib.mjs';

const password = need('CELLS_ADMIN_PASSWORD');
const folder = need('SCOPE_FOLDER');
const outside = need('OUTSIDE_FILE');
const folderName = folder.split('/').pop();
const { page, shot, finish } = await start('admin');

try {
  // Sign-in page; a wrong password gets one clear message.
  await page.goto(`${process.env.CELLS_URL}/`);
  await page.getByRole('heading', { name: 'Sign in to cells' }).waitFor();
  await shot('login');
  await signIn(page, 'nobody', 'not the password');
  await see(page, 'Wrong login or password.');
  const unknownUser = await page.locator('#login-message').innerText();
  await signIn(page, 'admin', 'not the password');
  await see(page, 'Wrong login or password.');
  check(await page.locator('#login-message').innerText() === unknownUser, 'an unknown login and a wrong password get the same message');
  await shot('login-wrong-password');
  check(!page.url().includes('password'), 'no credential in the URL');

  await signIn(page, 'admin', password);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  await see(page, 'common-files');
  await shot('files-workspaces');
  await page.getByRole('link', { name: 'common-files' }).click();
  await page.getByRole('link', { name: `${folderName}/` }).waitFor();
  await shot('files-common');

  // People: create a user.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People' }).click();
  await page.locator('tr[data-login="admin"]').waitFor();
  await shot('people');
  await page.getByRole('button', { name: 'New user' }).click();
  await page.getByLabel('Login', { exact: true }).fill('alice');
  await page.getByLabel('Display name (optional)').fill('Alice Ünal');
  await page.getByLabel('Password (optional)').fill('alice-Päss-1');
  await shot('people-new-user');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.locator('tr[data-login="alice"]').waitFor();
  check(await page.locator('dialog').count() === 0, 'the new-user dialog closed');
  // The server's message for a mistake shows in the form: a login taken already.
  await page.getByRole('button', { name: 'New user' }).click();
  await page.getByLabel('Login', { exact: true }).fill('alice');
  await page.getByRole('button', { name: 'Create user' }).click();
  await see(page.locator('dialog [role="alert"]'), 'already exists');
  await shot('people-new-user-conflict');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByLabel('Search').fill('ünal');
  await see(page, '1 of 2 users');
  check(await page.locator('tr[data-login="admin"]').count() === 0, 'search hides the users that do not match');
  await shot('people-search');

  // Alice's page: no tokens yet.
  await page.getByRole('link', { name: 'alice', exact: true }).click();
  await see(page, 'No personal access tokens yet.');
  await see(page, 'as the password, with');
  await shot('person-no-tokens');

  // The + form: auto refresh, 2 hours, capped in a week, scoped rw to the folder.
  await page.getByRole('button', { name: 'New token' }).click();
  const label = page.getByLabel('Label', { exact: true });
  check((await label.inputValue()).startsWith('Console token'), 'the label has a default');
  await label.fill('Sync Team Ü #1');
  await page.getByLabel('Auto refresh').check();
  await page.getByLabel('Refresh window').fill('2');
  await page.getByLabel('Unit').selectOption({ label: 'hours' });
  await page.getByLabel('Never valid after (optional)').fill(inAWeek());
  await page.getByRole('button', { name: 'Add from folders…' }).click();
  const picker = page.locator('dialog').last();
  await see(picker, 'is private to them');
  await picker.getByRole('button', { name: 'common-files/' }).waitFor();
  check(await picker.getByRole('button', { name: 'personal-files/' }).count() === 0, "the admin's own personal-files is not offered for someone else's token");
  await picker.getByRole('button', { name: 'common-files/' }).click();
  await picker.getByRole('button', { name: `${folderName}/` }).click();
  await picker.getByRole('button', { name: `Choose this folder: ${folder}` }).waitFor();
  await shot('scope-picker');
  await picker.getByRole('button', { name: `Choose this folder: ${folder}` }).click();
  await page.getByLabel(`Access to ${folder}`).selectOption('rw');
  // A UUID typed by hand: checked for its form here, for the node by the server.
  await page.getByLabel('Or a node UUID').fill('not-a-uuid');
  await page.getByRole('button', { name: 'Add UUID' }).click();
  await see(page.locator('dialog'), 'is not a node UUID');
  const nowhere = '123e4567-e89b-42d3-a456-426614174000';
  await page.getByLabel('Or a node UUID').fill(nowhere);
  await page.getByRole('button', { name: 'Add UUID' }).click();
  await see(page.locator('dialog'), 'not visible to you');
  await page.getByRole('button', { name: 'Create token' }).click();
  await see(page.locator('dialog [role="alert"]'), 'no such node');
  await shot('token-form-refused');
  await page.getByRole('button', { name: `Remove scope ${nowhere}` }).click();
  await shot('token-form');
  await page.getByRole('button', { name: 'Create token' }).click();
  await see(page, 'it will not be shown again');
  await page.getByRole('button', { name: 'Copy token' }).click();
  await see(page, 'Copied');
  const token = await clipboard(page);
  check(/^cpat_[0-9A-Za-z]{49}$/.test(token), 'the copied token has the cpat_ format');
  check(token === await page.locator('#new-token').inputValue(), 'the clipboard holds the token shown');
  await shot('token-created');

  // The token, used as curl would: allowed inside the scope, refused outside.
  const inside = await http('GET', url('/io/', `${folder}/inside.txt`), { token });
  check(inside.status === 200 && inside.text === 'inside the scope\n', `GET inside the scope: ${inside.status}`);
  const write = await http('PUT', url('/io/', `${folder}/written by token.txt`), { token, body: 'rw scope\n' });
  check(write.status === 201, `PUT inside the rw scope: ${write.status}`);
  const out = await http('GET', url('/io/', outside), { token });
  check(out.status === 403 || out.status === 404, `GET outside the scope is refused: ${out.status}`);
  const outWrite = await http('PUT', url('/io/', `${outside}.new`), { token, body: 'no' });
  check(outWrite.status === 403 || outWrite.status === 404, `PUT outside the scope is refused: ${outWrite.status}`);

  // The table shows the token, its scope as a path, and that it is active.
  await page.getByRole('button', { name: 'Done' }).click();
  const row = page.locator('tr[data-token]');
  await row.waitFor();
  check(await page.locator('#new-token').count() === 0, 'the secret is gone once the dialog is closed');
  await see(row, folder);
  await see(row, '2 h after last use');
  await see(row, 'never after');
  await see(row, 'active');
  await shot('person-tokens');

  // My tokens: the admin's own tokens, not alice's (the server lists everyone's to an
  // admin who does not say whose).
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My tokens' }).click();
  await page.getByRole('heading', { name: 'My tokens', level: 1 }).waitFor(); // alice's page is gone
  const mine = page.getByRole('region', { name: 'Personal access tokens' });
  await mine.locator('.empty, table').first().waitFor();
  check(await mine.locator('tr[data-token]').count() === 0, "My tokens does not list alice's token to the admin");
  await see(mine, 'No personal access tokens yet.');
  // At 390 px the heading and its button stand apart, and from the table under them.
  const add = mine.getByRole('button', { name: 'New token' });
  const apart = await gapAt390(page, mine.getByRole('heading', { name: 'Personal access tokens' }), add);
  const above = await gapAt390(page, add, mine.locator('.empty'));
  check(apart >= 10 && above >= 10, `at 390 px the tokens heading, + New token and the table under them stand apart: ${apart.toFixed(1)} px, ${above.toFixed(1)} px (at least 10)`);
  await shot('my-tokens-admin-empty');
  await add.click();
  await page.locator('dialog').waitFor();
  check(await page.getByRole('dialog', { name: 'New token', exact: true }).count() === 1, 'the form is named New token');
  await page.getByLabel('Label', { exact: true }).fill('Admin’s own ü #2');
  await page.getByRole('button', { name: 'Add from folders…' }).click();
  const ownPicker = page.locator('dialog').last();
  // Their own token: their own personal-files is offered, and no note is needed.
  await ownPicker.getByRole('button', { name: 'personal-files/' }).waitFor();
  const pickerText = await ownPicker.innerText();
  check(!/\bnull\b/.test(pickerText), `the picker opened from My tokens shows no "null": ${JSON.stringify(pickerText.split('\n').slice(0, 3))}`);
  await shot('my-tokens-admin-picker');
  await ownPicker.getByRole('button', { name: 'Choose /personal-files', exact: true }).click();
  await page.getByRole('button', { name: 'Create token' }).click();
  await see(page, 'it will not be shown again');
  check(await page.getByRole('dialog', { name: 'Token created' }).count() === 1, 'once made, the dialog is named Token created, as its heading says');
  check(await page.getByRole('dialog', { name: 'New token' }).count() === 0, 'and no longer New token');
  await page.getByRole('button', { name: 'Done' }).click();
  await see(mine.locator('tr[data-token]'), 'Admin’s own ü #2');
  check(await mine.locator('tr[data-token]').count() === 1, "My tokens lists the admin's own token alone");
  check(await mine.locator('tr[data-token]', { hasText: 'Sync Team Ü #1' }).count() === 0, "alice's token is not in the admin's My tokens");
  await shot('my-tokens-admin');

  await page.getByRole('link', { name: 'People' }).first().click();
  const aliceRow = page.locator('tr[data-login="alice"]');
  await aliceRow.waitFor();
  check((await aliceRow.locator('td[data-label="Active tokens"]').innerText()).trim() === '1', 'People counts one active token for alice');
  check((await page.locator('tr[data-login="admin"] td[data-label="Active tokens"]').innerText()).trim() === '1', 'and one for the admin');

  // Revoke in the UI, after a confirmation.
  await aliceRow.getByRole('link', { name: 'alice', exact: true }).click();
  // Her page still lists her token, and not the admin's own.
  await see(page.locator('tr[data-token]'), 'Sync Team Ü #1');
  check(await page.locator('tr[data-token]').count() === 1, "alice's page lists her token alone");
  const aliceToken = await page.locator('tr[data-token]').getAttribute('data-token');
  // Escape cancels the confirmation; the token stays active.
  await page.getByRole('button', { name: 'Revoke Sync Team Ü #1' }).click();
  await see(page.locator('dialog'), 'This cannot be undone');
  await page.keyboard.press('Escape');
  await page.locator('dialog').waitFor({ state: 'detached' });
  check((await http('GET', url('/io/', `${folder}/inside.txt`), { token })).status === 200, 'Escape revokes nothing');
  await page.getByRole('button', { name: 'Revoke Sync Team Ü #1' }).click();
  await see(page.locator('dialog'), 'This cannot be undone');
  await shot('revoke-confirm');
  await page.locator('dialog').getByRole('button', { name: 'Revoke' }).click();
  await see(page.locator('tr[data-token]'), 'revoked');
  const banner = await page.locator('#flash span').first().innerText();
  check(banner.includes('Sync Team Ü #1') && !banner.includes(aliceToken), `the revocation is told with the token's label, not its Uuid: ${banner}`);
  await shot('person-token-revoked');
  const after = await eventually(async () => {
    const answer = await http('GET', url('/io/', `${folder}/inside.txt`), { token });
    return { ok: answer.status === 401, status: answer.status };
  });
  check(after.ok, `the revoked token is refused: ${after.status}`);

  // Lock and unlock from the list.
  await page.getByRole('link', { name: 'People' }).first().click();
  await page.getByRole('button', { name: 'Lock alice' }).click();
  await see(page.locator('tr[data-login="alice"]'), 'locked');
  await page.getByRole('button', { name: 'Unlock alice' }).click();
  await see(page.locator('tr[data-login="alice"] td[data-label="Status"]'), 'active');
  check((await page.locator('tr[data-login="alice"] td[data-label="Active tokens"]').innerText()).trim() === '0', 'no active token left for alice');

  // A user created without a password gets a generated one, shown once; then deleted.
  await page.getByRole('button', { name: 'New user' }).click();
  await page.locator('dialog').waitFor();
  check(await page.getByRole('dialog', { name: 'New user' }).count() === 1, 'the form is named New user');
  await page.getByLabel('Login', { exact: true }).fill('carol');
  await page.getByRole('button', { name: 'Create user' }).click();
  await see(page.locator('dialog'), 'Generated password, shown once.');
  check(await page.getByRole('dialog', { name: 'carol was created' }).count() === 1, 'once made, the dialog is named as its heading: carol was created');
  check(await page.getByRole('dialog', { name: 'New user' }).count() === 0, 'and no longer New user');
  const generated = await page.locator('dialog .secret').inputValue();
  check(generated.length >= 12, 'a generated password is shown');
  await shot('people-generated-password');
  await page.getByRole('button', { name: 'Done' }).click();
  const carol = await http('POST', '/oauth2/token', { body: new URLSearchParams({ grant_type: 'password', username: 'carol', password: generated }) });
  check(carol.status === 200, `the generated password signs in: ${carol.status}`);
  await page.getByRole('button', { name: 'Delete carol' }).click();
  await see(page.locator('dialog'), 'It cannot be undone');
  await shot('people-delete-confirm');
  await page.locator('dialog').getByRole('button', { name: 'Delete' }).click();
  await gone(page.locator('tr[data-login="carol"]'), 'the deleted user left the list');

  // Throttling: after many failures from this address, the sign-in page says to wait.
  // Signing out ends the login on the server too: its access token is refused.
  const access = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cells.session')).access);
  check((await http('GET', '/a/users', { token: access })).status === 200, 'the login token works before signing out');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to cells' }).waitFor();
  check(await page.evaluate(() => sessionStorage.getItem('cells.session')) === null, 'the tab forgets the login');
  const ended = await eventually(async () => {
    const answer = await http('GET', '/a/users', { token: access });
    return { ok: answer.status === 401, status: answer.status };
  });
  check(ended.ok, `after signing out, the login token is refused: ${ended.status}`);
  for (let i = 0; i < 31; i += 1) {
    await http('POST', '/oauth2/token', { body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: `guess ${i}` }) });
  }
  await signIn(page, 'admin', 'yet another guess');
  await see(page, 'Too many failed sign-in attempts');
  check(await page.getByRole('button', { name: 'Sign in' }).isDisabled(), 'the sign-in button waits');
  await shot('login-throttled');

  console.log(`RESULT ${JSON.stringify({ user: 'alice', inside: inside.status, outside: out.status, revoked: after.status })}`);
} catch (err) {
  await shot('failure').catch(() => {});
  fail(err.stack || String(err));
}
await finish();
