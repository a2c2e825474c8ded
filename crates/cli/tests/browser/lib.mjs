// Shared by the browser scenarios: Chromium through playwright-core, screenshots at
// 1280 px and 390 px (with a check that nothing overflows sideways), waiting for text,
// the clipboard, and plain HTTP requests made the way curl would.

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = need('CELLS_URL');
const SHOTS = process.env.SCREENSHOT_DIR || 'console-screenshots';
const TIMEOUT = 15_000;

export function need(name) {
  const value = process.env[name];
  if (!value) fail(`the environment variable ${name} is not set`);
  return value;
}

export function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok: ${message}`);
}

// A hung browser must not hang the test run: the whole scenario gets five minutes.
setTimeout(() => fail('the scenario did not finish within 5 minutes'), 300_000).unref();

export async function start(scenario) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A refused request (the 400 of a wrong password, the 401 the test asks for) is
    // logged by Chromium as "Failed to load resource": expected. Anything else, such as
    // a CSP violation or an exception, is a failure.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  const dir = join(SHOTS, scenario);
  rmSync(dir, { recursive: true, force: true }); // no stale pictures of an earlier run
  mkdirSync(dir, { recursive: true });
  let shots = 0;

  /** Screenshots at 1280 px, then at 390 px, where nothing may overflow sideways. */
  async function shot(name) {
    shots += 1;
    const base = `${String(shots).padStart(2, '0')}-${name}`;
    await page.waitForTimeout(150); // let the last paint settle; not an assertion
    // Secrets shown once (a new token, a generated password) are masked in the pictures.
    const mask = [page.locator('.secret')];
    await page.screenshot({ path: join(dir, `${base}-1280.png`), fullPage: true, mask });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(150);
    const overflow = await page.evaluate(() => {
      const wide = [...document.querySelectorAll('body *')].filter((el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.right > document.documentElement.clientWidth + 1 && !el.closest('dialog:not([open])');
      });
      return { scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth, first: wide.slice(0, 3).map((el) => `${el.tagName}.${el.className} ${el.textContent.slice(0, 40)}`) };
    });
    await page.screenshot({ path: join(dir, `${base}-390.png`), fullPage: true, mask });
    await page.setViewportSize({ width: 1280, height: 860 });
    if (overflow.scroll > overflow.width) problems.push(`${name} overflows at 390 px (${overflow.scroll} > ${overflow.width}): ${overflow.first.join(' | ')}`);
  }

  async function finish() {
    await browser.close();
    if (problems.length) fail(problems.join('\n'));
    console.log(`screenshots: ${shots} pages, in ${dir}`);
  }

  return { browser, page, shot, finish, problems };
}

/** Waits until `text` shows on the page (or inside `scope`). */
export async function see(scope, text) {
  await scope.getByText(text, { exact: false }).first().waitFor({ state: 'visible' });
}

/** Waits until `locator` matches nothing (it was removed from the page). */
export async function gone(locator, message) {
  await locator.waitFor({ state: 'detached' });
  console.log(`ok: ${message}`);
}

/**
 * The gap, in px at a 390 px wide viewport, between the boxes of two locators: the
 * space across when they sit side by side, the space down when one is under the other;
 * 0 or less when they touch or overlap.
 */
export async function gapAt390(page, first, second) {
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await page.waitForTimeout(150); // let the layout settle; not an assertion
    const a = await first.boundingBox();
    const b = await second.boundingBox();
    if (!a || !b) throw new Error('a box to measure is not shown');
    const across = Math.max(b.x - (a.x + a.width), a.x - (b.x + b.width));
    const down = Math.max(b.y - (a.y + a.height), a.y - (b.y + b.height));
    return Math.max(across, down);
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
}

export async function clipboard(page) {
  return page.evaluate(() => navigator.clipboard.readText());
}

/** An HTTP request as curl would make it: `{status, text}`. */
export async function http(method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(BASE + path, { method, headers, body });
  return { status: response.status, text: await response.text() };
}

/** `/io/...` or `/a/tree/...` for a tree path, each segment percent-encoded. */
export function url(prefix, path) {
  return prefix + path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

/** Polls `probe` until it holds, for at most `limit` ms; the last value either way. */
export async function eventually(probe, limit = 5000) {
  const deadline = Date.now() + limit;
  for (;;) {
    const value = await probe();
    if (value.ok || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function signIn(page, login, password) {
  await page.goto(BASE + '/');
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export function inAWeek() {
  const at = new Date(Date.now() + 7 * 86400 * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}
