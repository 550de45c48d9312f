/**
 * sgl-router's `--prometheus-port`/`--prometheus-host`: the router's metrics also on a port of their
 * own, at GET /metrics, so a Prometheus scrape configuration written for sgl-router finds them.
 * Decisions: a bare node:http server (nothing else is routed there, so no Fastify); the same text as
 * the router's own GET /metrics; bounded close (its connections are dropped, a scrape is short).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsListener {
  readonly port: number;
  close(): Promise<void>;
}

/** `render`: the router's metrics text (RouterContext.renderMetrics: every worker's with --workers N). */
export async function listenForMetrics(render: () => Promise<string>, contentType: string, host: string, port: number): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at GET /metrics\n');
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
