// The worker side of chorus-wasm.js's WorkerPool: keeps one instance per module it is sent and
// runs one task at a time (runTask). A browser module worker, or a worker_threads worker in Node.
import { runTask } from './chorus-wasm.js';

const port = typeof WorkerGlobalScope === 'function' ? globalThis : (await import('node:worker_threads')).parentPort;
const instances = new Map(); // module id → Promise of its instance

const handle = async (message) => {
  const { reply, transfer } = await runTask(message, instances);
  port.postMessage(reply, transfer);
};

if (typeof port.on === 'function') port.on('message', handle);
else port.onmessage = (event) => handle(event.data);
