// Waiting for events with a deadline, so a test fails with a message instead of hanging.

// The real timers, kept even while a test mocks the global ones: a deadline armed before the
// mock must still be cleared after it.
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = globalThis;

/** Resolves with `promise`, or rejects after `ms` saying what was awaited. */
export function within(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = realSetTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => realClearTimeout(timer));
}

/** The arguments of the next `event` on `emitter` for which `predicate(...args)` holds. */
export function nextEvent(emitter, event, { predicate = () => true, timeout = 5000 } = {}) {
  let listener;
  const seen = new Promise((resolve) => {
    listener = (...args) => {
      if (!predicate(...args)) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
  return within(seen, timeout, `'${event}'`).finally(() => emitter.off(event, listener));
}

/** Resolves once `client.state` is `state` (at once if it already is). */
export function stateReached(client, state, timeout = 5000) {
  if (client.state === state) return Promise.resolve();
  return nextEvent(client, 'status', { predicate: (_old, now) => now === state, timeout }).then(() => undefined);
}

/** Records every state a client moves to. */
export function recordStates(client) {
  const states = [];
  client.on('status', (_old, now) => states.push(now));
  return states;
}

/** A seeded PRNG (mulberry32) so that jitter tests are reproducible. */
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
