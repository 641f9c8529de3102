// Module resolve hook (see debian-modules.mjs): a bare specifier that ESM resolution cannot
// find is resolved the CommonJS way, which searches NODE_PATH.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const bare = !/^(\.|\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !bare) throw error;
    return { url: pathToFileURL(require.resolve(specifier)).href, shortCircuit: true };
  }
}
