import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from '../chorus.js';

test('on/emit passes every argument and emit says whether anyone listened', () => {
  const emitter = new EventEmitter();
  const calls = [];
  emitter.on('x', (...args) => calls.push(args));
  assert.equal(emitter.emit('x', 1, 'two', { three: 3 }), true);
  assert.equal(emitter.emit('nobody'), false);
  assert.deepEqual(calls, [[1, 'two', { three: 3 }]]);
});

test('once fires a single time; off removes plain and once listeners; listenerCount follows', () => {
  const emitter = new EventEmitter();
  let onceCalls = 0;
  let plainCalls = 0;
  const plain = () => plainCalls++;
  const removedBeforeFiring = () => assert.fail('an off() once listener must not fire');
  emitter.once('x', () => onceCalls++);
  emitter.on('x', plain);
  emitter.once('x', removedBeforeFiring);
  assert.equal(emitter.listenerCount('x'), 3);
  emitter.off('x', removedBeforeFiring);
  assert.equal(emitter.listenerCount('x'), 2);
  emitter.emit('x');
  emitter.emit('x');
  assert.equal(onceCalls, 1);
  assert.equal(plainCalls, 2);
  emitter.off('x', plain);
  assert.equal(emitter.listenerCount('x'), 0);
  assert.equal(emitter.emit('x'), false);
});

test('a listener removed by an earlier listener still sees the event being emitted, and not later ones', () => {
  const emitter = new EventEmitter();
  const seen = [];
  const second = (n) => seen.push(`second ${n}`);
  emitter.on('x', (n) => {
    seen.push(`first ${n}`);
    emitter.off('x', second);
  });
  emitter.on('x', second);
  emitter.emit('x', 1);
  emitter.emit('x', 2);
  assert.deepEqual(seen, ['first 1', 'second 1', 'first 2']);
});

test('a throwing listener does not stop the others and is reported as an error event', () => {
  const emitter = new EventEmitter();
  const seen = [];
  const errors = [];
  emitter.on('error', (error) => errors.push(error));
  emitter.on('x', () => seen.push('before'));
  emitter.on('x', () => {
    throw new Error('boom');
  });
  emitter.on('x', () => seen.push('after'));
  emitter.emit('x');
  assert.deepEqual(seen, ['before', 'after']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, 'boom');
});

test('without an error listener, and for a throwing error listener, the console gets the error', (t) => {
  const logged = [];
  t.mock.method(console, 'error', (...args) => logged.push(args));
  const emitter = new EventEmitter();
  const seen = [];
  emitter.on('x', () => {
    throw new Error('no error listener');
  });
  emitter.on('x', () => seen.push('x ran'));
  emitter.emit('x');
  assert.deepEqual(seen, ['x ran']);
  assert.equal(logged.length, 1);
  assert.equal(logged[0][1].message, 'no error listener');

  emitter.on('error', () => {
    throw new Error('the error listener itself failed');
  });
  emitter.on('error', () => seen.push('second error listener ran'));
  emitter.emit('error', new Error('original'));
  assert.deepEqual(seen, ['x ran', 'second error listener ran']);
  assert.equal(logged.length, 2, 'reported once on the console, no loop through error');
  assert.equal(logged[1][1].message, 'the error listener itself failed');
});
