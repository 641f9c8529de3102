// Debian installs Node packages (node-ws, node-react, …) under /usr/share/nodejs. Only
// CommonJS resolution searches NODE_PATH, so tests run with NODE_PATH=/usr/share/nodejs
// (scripts/test-js sets it) and load those packages through require.
import { createRequire, register } from 'node:module';

const require = createRequire(import.meta.url);

/** A Debian-packaged module, e.g. 'ws' or 'react-test-renderer'. */
export function requirePackage(name) {
  try {
    return require(name);
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(`cannot load '${name}': install Debian's package (scripts/test-js does) and run with NODE_PATH=/usr/share/nodejs`);
  }
}

let hookRegistered = false;

/**
 * Imports an ES module whose own imports name Debian packages (react.js imports 'react'):
 * a resolve hook lets ESM find what CommonJS finds through NODE_PATH.
 */
export async function importWithPackages(url) {
  if (!hookRegistered) {
    register(new URL('./resolve-packages.mjs', import.meta.url));
    hookRegistered = true;
  }
  return import(url);
}
