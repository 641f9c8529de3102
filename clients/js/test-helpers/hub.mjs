// Real hub processes for the integration tests: `chorus serve --port 0`, stopped by pid.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { within } from './wait.mjs';

export const CHORUS_BIN = process.env.CHORUS_BIN ?? fileURLToPath(new URL('../../../.build/debug/chorus', import.meta.url));

/** The environment without CHORUS_* settings, so that the tests decide the configuration. */
function cleanEnvironment() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CHORUS_')));
}

/** A fresh directory under the system's temporary one; `remove()` deletes it. */
export function temporaryDirectory() {
  const path = mkdtempSync(join(tmpdir(), 'chorus-js-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Starts a hub; resolves once it logs the port it listens on. It runs in a directory of its
 * own (no stray chorus.json; its default data_dir lands there), removed when it stops; pass
 * `--data-dir` in `args` for a store that outlives it.
 */
export async function startHub({ port = 0, args = [] } = {}) {
  const workDirectory = temporaryDirectory();
  const child = spawn(CHORUS_BIN, ['serve', '--port', String(port), '--shutdown-timeout', '2s', ...args], {
    cwd: workDirectory.path,
    env: cleanEnvironment(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.on('exit', () => workDirectory.remove());
  let log = '';
  const listening = new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /Chorus hub listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match) resolve(Number(match[1]));
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`hub exited (${code ?? signal}) before listening:\n${log}`)));
  });
  const actualPort = await within(listening, 20000, `${CHORUS_BIN} to listen`);
  return {
    port: actualPort,
    pid: child.pid,
    ws: `ws://127.0.0.1:${actualPort}/ws`,
    http: `http://127.0.0.1:${actualPort}`,
    log: () => log,
    /** SIGTERM to this hub's own pid, then waits for it to exit. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await within(exited, 15000, `hub ${child.pid} to exit`);
    },
  };
}

/** A client token signed with `secret`, made by `chorus token`. */
export async function mintToken(secret, user, ttl) {
  const { stdout } = await promisify(execFile)(CHORUS_BIN, ['token', '--user', user, '--ttl', ttl, '--jwt-secret', secret], {
    cwd: tmpdir(),
    env: cleanEnvironment(),
  });
  return stdout.trim();
}

/** POSTs JSON to the hub's HTTP API; resolves with the parsed answer (throws on a non-2xx). */
export async function postJSON(url, body, apiKey) {
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}
