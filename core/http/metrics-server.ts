import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The small HTTP face of a process that has no API (workers): `/metrics` for Prometheus,
 * `/healthz` (alive) and `/readyz` (its dependencies answer) for Kubernetes probes.
 */
export async function startMetricsServer(options: { registry: Registry; port: number; host: string; ready: () => Promise<boolean> }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/metrics') {
          const body = await options.registry.metrics();
          res.writeHead(200, { 'content-type': options.registry.contentType }).end(body);
        } else if (req.url === '/healthz') {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        } else if (req.url === '/readyz') {
          const ok = await options.ready().catch(() => false);
          res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ready' : 'not ready' }));
        } else {
          res.writeHead(404).end();
        }
      } catch {
        res.writeHead(500).end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
