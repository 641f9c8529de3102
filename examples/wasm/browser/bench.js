// The browser benchmark of the example kernels (docs/performance.md, "WebAssembly in the
// browser"): each kernel against the same algorithm in JavaScript, and base64 decoding also
// against the browser's own atob. Serve this folder with the client's chorus.js,
// chorus-wasm.js and chorus-wasm-worker.js beside it and kernels.wasm built from kernels.wat
// (Tests/e2e/test_wasm_browser.py does), then call run() from bench.html or the console.
import { benchmark, instantiate, stats } from './chorus-wasm.js';

/** Adler-32 (RFC 1950) as kernels.wat computes it, modulo deferred over 5552-byte blocks. */
export function adler32(bytes) {
  let a = 1;
  let b = 0;
  for (let start = 0; start < bytes.length; start += 5552) {
    const end = Math.min(start + 5552, bytes.length);
    for (let i = start; i < end; i++) {
      a += bytes[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const TABLE = new Uint8Array(256).fill(255);
for (let i = 0; i < 64; i++) TABLE[ALPHABET.charCodeAt(i)] = i;
TABLE[45] = 62; // '-'
TABLE[95] = 63; // '_'

/** Base64 decoding as kernels.wat does it: 6 bits per character into an accumulator. */
export function base64Decode(text) {
  let end = text.length;
  while (end > 0 && text.length - end < 2 && text.charCodeAt(end - 1) === 61) end--;
  if (end % 4 === 1) throw new Error('not base64');
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const value = TABLE[text.charCodeAt(i) & 0xff];
    if (value === 255 || text.charCodeAt(i) > 0xff) throw new Error('not base64');
    acc = ((acc << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = acc >>> bits;
      acc &= 0xff;
    }
  }
  return out.subarray(0, o);
}

function randomBytes(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

function toBase64(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 32768) binary += String.fromCharCode(...bytes.subarray(i, i + 32768));
  return btoa(binary);
}

/**
 * Times each kernel on `size` bytes (`iterations` timed runs after `warmup`), checking first
 * that wasm and JavaScript agree.
 */
export async function run({ size = 1 << 20, iterations = 30, warmup = 5, kernelsURL = './kernels.wasm' } = {}) {
  const kernels = await instantiate(new URL(kernelsURL, import.meta.url));
  const bytes = randomBytes(size);
  const text = toBase64(bytes);
  if ((kernels.call('adler32', { input: bytes }).value >>> 0) !== adler32(bytes)) throw new Error('adler32: wasm and JavaScript disagree');
  const decoded = new Uint8Array(kernels.call('base64_decode', { input: text, output: true }).output);
  if (decoded.length !== size || decoded.some((byte, i) => byte !== bytes[i])) throw new Error('base64: wasm does not round-trip');
  if (base64Decode(text).some((byte, i) => byte !== bytes[i])) throw new Error('base64: JavaScript does not round-trip');
  const options = { warmup, iterations };
  const textBytes = new TextEncoder().encode(text);
  const fromString = () => kernels.call('base64_decode', { input: text, output: true });
  const figures = {
    size,
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated ?? false,
    adler32: await benchmark({ ...options, wasm: () => kernels.call('adler32', { input: bytes }), js: () => adler32(bytes) }),
    // The kernel on bytes already encoded (copied in and out), against the same loop in JavaScript.
    base64: await benchmark({ ...options, wasm: () => kernels.call('base64_decode', { input: textBytes, output: true }), js: () => base64Decode(text) }),
    // What a channel decoder pays: the string encoded to UTF-8 first.
    base64FromString: await benchmark({ ...options, wasm: fromString, js: () => base64Decode(text) }),
    base64VsAtob: await benchmark({ ...options, wasm: fromString, js: () => Uint8Array.from(atob(text), (c) => c.charCodeAt(0)) }),
  };
  // The engine's own decoder, where it has one.
  if (typeof Uint8Array.fromBase64 === 'function') {
    figures.base64VsNative = await benchmark({ ...options, wasm: fromString, js: () => Uint8Array.fromBase64(text) });
  }
  return { ...figures, stats: stats() };
}
