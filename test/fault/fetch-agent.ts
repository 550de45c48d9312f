/**
 * The fault tests' HTTP agent: run inside a network namespace (the test process cannot reach
 * addresses there), it reads requests as JSON lines on stdin and answers each on stdout as a JSON
 * line `{ id, status, text, ms }`, concurrently. It exits when stdin closes (the test is done or
 * gone). Client side: fetch-agent-client.ts.
 */
import { createInterface } from 'node:readline';
import { timedFetch, type HttpRequest } from './timed-fetch.js';

process.stdout.write('{"ready":true}\n');
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const { id, ...req } = JSON.parse(line) as HttpRequest & { id: number };
  void timedFetch(req).then((reply) => process.stdout.write(`${JSON.stringify({ id, ...reply })}\n`));
});
lines.on('close', () => process.exit(0));
