// Unit tests of the console's pure formatting functions (ui.js), with node's test
// runner: relative times at the edges of each unit, durations, sizes.
//
//   node --experimental-default-type=module --test format.test.mjs

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, relative, size } from '../../../server/console/js/ui.js';

const NOW = 1_800_000_000;
const at = (seconds) => relative(NOW + seconds, NOW);

test('relative times read like a person would say them', () => {
  assert.equal(at(0), 'in a few seconds');
  assert.equal(at(-10), 'just now');
  assert.equal(at(60), 'in 1 minute');
  assert.equal(at(-150), '3 minutes ago');
  assert.equal(at(7200), 'in 2 hours');
  assert.equal(at(3 * 86400), 'in 3 days');
  assert.equal(at(-3 * 86400), '3 days ago');
  assert.equal(at(400 * 86400), 'in 1 year');
});

test('each unit takes over a little before the next whole one', () => {
  assert.equal(at(86400 - 60), 'in 1 day', '23 h 59 min');
  assert.equal(at(22 * 3600 - 1), 'in 22 hours');
  assert.equal(at(45 * 60), 'in 1 hour');
  assert.equal(at(30 * 86400), 'in 1 month');
});

test('durations show the two largest units', () => {
  assert.equal(duration(7200), '2 h');
  assert.equal(duration(90 * 60), '1 h 30 min');
  assert.equal(duration(86400 + 3600 + 60), '1 d 1 h');
  assert.equal(duration(45), '45 s');
  assert.equal(duration(0), '0 s');
});

test('sizes use binary units', () => {
  assert.equal(size(0), '0 B');
  assert.equal(size(1023), '1023 B');
  assert.equal(size(1024), '1.0 KiB');
  assert.equal(size(52 * 1024), '52 KiB');
  assert.equal(size(5 * 1024 ** 3), '5.0 GiB');
});
