// The imports busy.wasm needs, for a worker pool's `importsURL` (a worker cannot be handed
// functions, so it imports this module and instantiates with its default export).
export default { env: { now: () => performance.now() } };
