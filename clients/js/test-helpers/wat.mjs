// Builds test modules from WAT with wabt's wat2wasm (Debian's `wabt`; scripts/test-js installs
// it), so no compiled binary is kept in the repository without its source.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The module bytes of WAT `source` (a file under examples/wasm/browser with `{ file }`). */
export function wat(source, { file, features = [] } = {}) {
  const folder = mkdtempSync(join(tmpdir(), 'chorus-wat-'));
  try {
    const input = file ?? join(folder, 'module.wat');
    if (!file) writeFileSync(input, source);
    const output = join(folder, 'module.wasm');
    execFileSync('wat2wasm', [...features, input, '-o', output], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Uint8Array(readFileSync(output));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** An example kernel's bytes: examples/wasm/browser/NAME.wat. */
export function example(name) {
  return wat(undefined, { file: new URL(`../../../examples/wasm/browser/${name}.wat`, import.meta.url).pathname });
}
