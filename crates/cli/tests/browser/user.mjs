// Scenario 2 of the console: a standard user makes a folder and uploads a file into it
// by drag and drop (and one with the file chooser), sees the file's UUID and copies it,
// renames, moves, downloads and deletes; uploads a whole folder with the folder picker
// (one bar for all of it, its subfolders made on the way, every file checked through
// /io); then, in My tokens, creates a read-only token scoped to the folder; the token
// reads the file and cannot write.
//
// Env: CELLS_URL, CELLS_LOGIN, CELLS_PASSWORD.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { check, clipboard, fail, gone, http, need, see, signIn, start, url } from './lib.mjs';

const login = need('CELLS_LOGIN');
const password = need('CELLS_PASSWORD');
const folderName = 'Reports 2026 #1 ü';
const folder = `/personal-files/${folderName}`;
const fileName = 'q1 report 100% #1.txt';
const content = 'quarterly figures: ü ✓\n'.repeat(2000);
const { page, shot, finish } = await start('user');

try {
  await signIn(page, login, password);
  await page.getByRole('heading', { name: 'Files' }).waitFor();
  check(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'People' }).isHidden(), 'a standard user is not offered People');
  await page.getByRole('link', { name: 'personal-files' }).click();
  await see(page, 'This folder is empty.');
  await shot('files-empty');

  // New folder, then into it.
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Folder name').fill(folderName);
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('link', { name: `${folderName}/` }).click();
  await page.getByRole('heading', { name: folderName }).waitFor();

  // Drag and drop a file onto the folder.
  const transfer = await page.evaluateHandle(({ name, text }) => {
    const data = new DataTransfer();
    data.items.add(new File([text], name, { type: 'text/plain' }));
    return data;
  }, { name: fileName, text: content });
  const zone = page.getByRole('region', { name: 'Folder contents' });
  await zone.dispatchEvent('dragenter', { dataTransfer: transfer });
  await zone.dispatchEvent('dragover', { dataTransfer: transfer });
  await shot('files-drag-over');
  await zone.dispatchEvent('drop', { dataTransfer: transfer });
  const upload = page.locator('.uploads li', { hasText: fileName });
  await see(upload, 'done');
  check(await upload.locator('progress').evaluate((bar) => bar.value) === 100, 'the progress bar reached 100 %');
  const row = page.locator('tr', { hasText: fileName });
  await row.waitFor();
  await see(page, 'uploaded to');
  await shot('files-uploaded');

  // An access token refused by the server (as once it expires) is renewed with the
  // refresh token, and the page carries on.
  const before = await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('cells.session'));
    const access = session.access;
    session.access = 'expired.or.tampered';
    sessionStorage.setItem('cells.session', JSON.stringify(session));
    return access;
  });
  await page.reload();
  await page.locator('tr', { hasText: fileName }).waitFor();
  const renewed = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cells.session')).access);
  check(renewed !== before && renewed !== 'expired.or.tampered', 'a refused access token is renewed with the refresh token');
  check(!page.url().includes(renewed) && !page.url().includes('cpat_'), 'no token in the URL');

  // The UUID is shown and copied.
  const uuid = (await row.locator('td[data-label="UUID"] code').innerText()).trim();
  check(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid), `the file's UUID is shown: ${uuid}`);
  await row.getByRole('button', { name: `Copy UUID of ${fileName}` }).click();
  check(await clipboard(page) === uuid, 'the copy button copies the UUID');

  // Download gives back the content.
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: `Download ${fileName}` }).click()]);
  const chunks = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk);
  check(Buffer.concat(chunks).toString('utf8') === content, 'the download has the uploaded content');
  check(download.suggestedFilename() === fileName, 'the download keeps the file name');

  // The file chooser; then rename, move out of the folder, and delete.
  await page.locator('#upload-input').setInputFiles({ name: 'chosen.bin', mimeType: 'application/octet-stream', buffer: Buffer.from('chosen\n') });
  await page.locator('tr', { hasText: 'chosen.bin' }).waitFor();
  await page.getByRole('button', { name: 'Rename chosen.bin' }).click();
  await page.getByLabel('New name').fill('renamed #2.bin');
  await shot('files-rename');
  await page.getByRole('button', { name: 'Rename', exact: true }).click();
  await page.locator('tr', { hasText: 'renamed #2.bin' }).waitFor();
  await page.getByRole('button', { name: 'Move renamed #2.bin' }).click();
  const picker = page.locator('dialog');
  await picker.getByRole('button', { name: 'Move here /personal-files', exact: true }).click();
  await see(page, 'Moved to /personal-files/renamed #2.bin');
  await gone(page.locator('tr', { hasText: 'renamed #2.bin' }), 'the moved file left the folder');
  await page.getByRole('button', { name: 'New folder' }).click();
  await page.getByLabel('Folder name').fill('scratch');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.getByRole('button', { name: 'Delete scratch' }).click();
  await see(page.locator('dialog'), 'cannot be undone');
  await page.locator('dialog').getByRole('button', { name: 'Delete' }).click();
  await see(page, 'Deleted scratch');
  await gone(page.locator('tr', { hasText: 'scratch' }), 'the deleted folder is gone from the listing');

  // A folder with subfolders, with the folder picker: one bar for the whole folder.
  const tree = mkdtempSync(join(tmpdir(), 'cells-folder-'));
  const top = 'Holiday ü #3';
  const sent = new Map(); // path inside the top folder -> content
  for (let i = 0; i < 12; i += 1) {
    const where = ['', 'sub dir/', 'sub dir/deeper 100%/'][i % 3];
    sent.set(`${where}file ${i} #ü.txt`, Buffer.from(`file ${i}\n`.repeat(1 + i * 3000)));
  }
  for (const [relative, bytes] of sent) {
    const file = join(tree, top, relative);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
  const total = [...sent.values()].reduce((sum, bytes) => sum + bytes.length, 0);
  await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('link', { name: 'personal-files' }).click();
  await page.getByRole('heading', { name: 'personal-files' }).waitFor();
  // Every state the folder's line goes through, as the page writes it.
  await page.evaluate(() => {
    window.folderStates = [];
    new MutationObserver(() => {
      const line = [...document.querySelectorAll('.uploads li')].pop();
      if (line) window.folderStates.push(line.lastElementChild.textContent);
    }).observe(document.querySelector('.uploads'), { subtree: true, childList: true, characterData: true });
  });
  await page.locator('#folder-input').setInputFiles(join(tree, top));
  const folderLine = page.locator('.uploads li', { hasText: `${top}/` });
  await see(folderLine, `done: ${sent.size} of ${sent.size} files`);
  rmSync(tree, { recursive: true, force: true });
  check(await page.locator('.uploads li').count() === 1, 'one line for the whole folder, none per file');
  const bar = await folderLine.locator('progress').evaluate((el) => ({ value: el.value, max: el.max }));
  check(bar.max === total && bar.value === total, `the folder's bar reached its total of ${total} bytes: ${JSON.stringify(bar)}`);
  const counts = (await page.evaluate(() => window.folderStates))
    .map((text) => /^(?:done: )?(\d+) of (\d+) files/.exec(text))
    .filter(Boolean)
    .map((m) => [Number(m[1]), Number(m[2])]);
  check(counts.every(([, of]) => of === sent.size) && counts.every(([n], i) => i === 0 || n >= counts[i - 1][0]), `files done of ${sent.size}, never going back: ${counts.map(([n]) => n).join(' ')}`);
  check(new Set(counts.map(([n]) => n)).size >= 4 && counts[0][0] === 0, 'the count moved up file by file from 0');
  await page.locator('tr', { hasText: `${top}/` }).waitFor();
  await see(page, `${top}/ uploaded to /personal-files: ${sent.size} files.`);
  await shot('files-folder-uploaded');
  const access = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cells.session')).access);
  let arrived = 0;
  for (const [relative, bytes] of sent) {
    const got = await http('GET', url('/io/', `/personal-files/${top}/${relative}`), { token: access });
    if (got.status !== 200 || got.text !== bytes.toString('utf8')) fail(`${relative}: ${got.status}, ${got.text.length} bytes of ${bytes.length}`);
    arrived += 1;
  }
  check(arrived === sent.size, `every file of the folder arrived with its content (${arrived} files)`);
  const deeper = await http('GET', `${url('/a/tree/', `/personal-files/${top}/sub dir/deeper 100%`)}?children=true`, { token: access });
  const names = JSON.parse(deeper.text).Children.map((c) => c.Path.split('/').pop()).sort();
  const wanted = [...sent.keys()].filter((k) => k.startsWith('sub dir/deeper 100%/')).map((k) => k.split('/').pop()).sort();
  check(JSON.stringify(names) === JSON.stringify(wanted), `the subfolders were made, and hold their files only: ${names.join(', ')}`);

  // My tokens: a read-only token scoped to the folder.
  await page.getByRole('link', { name: 'My tokens' }).click();
  await see(page, 'No personal access tokens yet.');
  await shot('my-tokens-empty');
  // Keyboard: the form opens on its first field, Escape closes it, focus returns.
  await page.getByRole('button', { name: 'New token' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'New token' }).waitFor();
  check(await page.evaluate(() => document.activeElement.name) === 'label', 'the token form opens on its Label field');
  await page.keyboard.press('Escape');
  await page.locator('dialog').waitFor({ state: 'detached' });
  check(await page.evaluate(() => document.activeElement.getAttribute('aria-label')) === 'New token', 'focus returns to the + button');
  await page.keyboard.press('Enter');
  await page.getByLabel('Label', { exact: true }).fill('Read the reports');
  await page.getByLabel('Expires in').fill('1');
  await page.getByRole('button', { name: 'Add from folders…' }).click();
  const scopePicker = page.locator('dialog').last();
  await scopePicker.getByRole('button', { name: 'personal-files/', exact: true }).click();
  await scopePicker.getByRole('button', { name: `${folderName}/`, exact: true }).click();
  await scopePicker.getByRole('button', { name: `Choose this folder: ${folder}` }).click();
  check(await page.getByLabel(`Access to ${folder}`).inputValue() === 'r', 'a new scope is read only unless changed');
  await shot('my-token-form');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByRole('button', { name: 'Copy token' }).click();
  await see(page, 'Copied');
  const token = await clipboard(page);
  check(/^cpat_[0-9A-Za-z]{49}$/.test(token), 'the copied token has the cpat_ format');
  await shot('my-token-created');

  const read = await http('GET', url('/io/', `${folder}/${fileName}`), { token });
  check(read.status === 200 && read.text === content, `the token reads the file: ${read.status}`);
  const listing = await http('GET', `${url('/a/tree/', folder)}?children=true`, { token });
  check(listing.status === 200 && listing.text.includes(uuid), `the token lists the folder: ${listing.status}`);
  const overwrite = await http('PUT', url('/io/', `${folder}/${fileName}`), { token, body: 'overwritten' });
  check(overwrite.status === 403, `the read-only token cannot overwrite: ${overwrite.status}`);
  const create = await http('PUT', url('/io/', `${folder}/new.txt`), { token, body: 'new' });
  check(create.status === 403, `the read-only token cannot create: ${create.status}`);
  const remove = await http('DELETE', url('/io/', `${folder}/${fileName}`), { token });
  check(remove.status === 403, `the read-only token cannot delete: ${remove.status}`);
  const outside = await http('GET', url('/io/', '/personal-files/renamed #2.bin'), { token });
  check(outside.status === 403 || outside.status === 404, `outside the scope is refused: ${outside.status}`);

  await page.getByRole('button', { name: 'Done' }).click();
  const tokenRow = page.locator('tr[data-token]');
  await see(tokenRow, folder);
  await see(tokenRow, 'read only');
  await see(tokenRow, 'Hard limit');
  await see(tokenRow, 'in 1 day');
  await shot('my-tokens');

  console.log(`RESULT ${JSON.stringify({ uuid, read: read.status, overwrite: overwrite.status })}`);
} catch (err) {
  await shot('failure').catch(() => {});
  fail(err.stack || String(err));
}
await finish();
