import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, isPattern, topicMatches } from '../chorus.js';
import { seededRandom } from '../test-helpers/wait.mjs';

test('backoff stays between 0 and min(cap, base * 2^attempt), 1 s doubling to 30 s by default', () => {
  const almostOne = () => 0.999999;
  const ceilings = [1000, 2000, 4000, 8000, 16000, 30000, 30000];
  ceilings.forEach((ceiling, attempt) => {
    assert.equal(backoffDelay(attempt, { random: () => 0 }), 0);
    const highest = backoffDelay(attempt, { random: almostOne });
    assert.ok(highest < ceiling && highest >= ceiling - 1, `attempt ${attempt}: ${highest} vs ceiling ${ceiling}`);
  });
  // Far past the cap 2^attempt overflows to Infinity; the cap must still hold.
  assert.equal(backoffDelay(5000, { random: almostOne }), 29999);
  assert.equal(backoffDelay(3, { base: 10, cap: 50, random: almostOne }), 49);
});

test('backoff uses full jitter: uniform over the whole [0, ceiling) range', () => {
  const random = seededRandom(42);
  const ceiling = 8000; // attempt 3
  const samples = Array.from({ length: 20000 }, () => backoffDelay(3, { random }));
  const bins = new Array(10).fill(0);
  for (const delay of samples) {
    assert.ok(delay >= 0 && delay < ceiling, `${delay} out of range`);
    bins[Math.floor(delay / (ceiling / 10))]++;
  }
  // Each tenth of the range gets its share (2000 ± 10%): no floor at half the ceiling
  // (as "equal jitter" would have), no clustering at the top (as no jitter would).
  bins.forEach((count, bin) => assert.ok(Math.abs(count - 2000) < 200, `bin ${bin} has ${count}`));
  const mean = samples.reduce((sum, delay) => sum + delay, 0) / samples.length;
  assert.ok(Math.abs(mean - ceiling / 2) < ceiling * 0.02, `mean ${mean}`);
  assert.ok(Math.min(...samples) < ceiling * 0.01);
  assert.ok(Math.max(...samples) > ceiling * 0.99);
});

test('backoff with the same seed is reproducible', () => {
  const first = seededRandom(7);
  const second = seededRandom(7);
  const a = [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, { random: first }));
  const b = [0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, { random: second }));
  assert.deepEqual(a, b);
});

test('topicMatches follows the protocol: * is one segment, a final ** one or more', () => {
  assert.ok(topicMatches('chat:general', 'chat:general'));
  assert.ok(!topicMatches('chat:general', 'chat:other'));
  assert.ok(topicMatches('messages.user.*', 'messages.user.42'));
  assert.ok(!topicMatches('messages.user.*', 'messages.user'));
  assert.ok(!topicMatches('messages.user.*', 'messages.user.42.x'));
  assert.ok(topicMatches('messages.*.42', 'messages.user.42'));
  assert.ok(topicMatches('messages.**', 'messages.user.42'));
  assert.ok(topicMatches('messages.**', 'messages.channel'));
  assert.ok(!topicMatches('messages.**', 'messages'));
  assert.ok(!topicMatches('messages.**', 'other.user'));
  assert.ok(isPattern('a.*') && isPattern('a.**') && !isPattern('a.b') && !isPattern('a*b'));
});
