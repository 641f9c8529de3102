// chorus.js as a cluster's client for Tests/e2e/test_cluster.py: subscribes to a topic through
// a list of hub URLs (the client rotates through them after a lost connection) and prints one
// JSON line per event on stdout. Usage: node cluster-subscriber.mjs TOPIC URL...
// Run with NODE_PATH=/usr/share/nodejs (Debian's node-ws).
import { ChorusClient } from '../../../clients/js/chorus.js';
import { requirePackage } from '../../../clients/js/test-helpers/debian-modules.mjs';

const WebSocket = requirePackage('ws');
const [topic, ...urls] = process.argv.slice(2);
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const client = new ChorusClient(urls, { WebSocket, backoff: { base: 50, cap: 400 }, heartbeatInterval: 0 });
const channel = client.channel(topic);
channel.on('message', (message) => print({ kind: 'message', offset: message.offset, epoch: message.epoch, data: message.data }));
channel.on('subscribed', (reply) => print({ kind: 'subscribed', url: client.url, offset: reply.offset, recovered: reply.recovered ?? null }));
channel.on('recovery_failed', () => print({ kind: 'recovery_failed' }));
client.on('reconnect', ({ url }) => print({ kind: 'reconnect', url }));
client.on('error', (error) => print({ kind: 'error', message: String(error?.message ?? error) }));
process.on('SIGTERM', () => {
  client.close();
  process.exit(0);
});
await channel.subscribe();
