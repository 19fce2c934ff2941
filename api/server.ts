import type { FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger.js';
import { buildApp } from './app.js';
import type { FarmServices } from './plugins/farm-services.js';

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Listens on `port` (0 = any free port) and logs the address it got. */
export async function startApiServer(options: { services: FarmServices; port: number; host: string; logger: Logger }): Promise<ApiServer> {
  const app = await buildApp(options.services, {
    loggerInstance: options.logger.child({ component: 'api' }),
    requestTimeout: 120_000,
  });
  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host === '0.0.0.0' ? '127.0.0.1' : options.host}:${port}`;
  options.logger.info({ url }, `api listening on ${url}`);
  return { app, url, close: () => app.close() };
}
