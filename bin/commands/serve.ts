import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { closeOnSignals } from '../../core/shutdown.js';
import { startFarmServer } from '../../producer/main.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the API and the producer (workers run separately: sdf-farm worker)')
    .option('--port <port>', 'API port (default PORT or 8080; 0 = any free port)')
    .addHelpText('after', examples('REDIS_URL=redis://redis:6379 SDF_API_TOKEN=s3cret sdf-farm serve --port 8080'))
    .action(async (options: { port?: string }) => {
      const config = loadConfig();
      const logger = createLogger(config.logLevel, { component: 'serve' });
      const starting = startFarmServer({ config, logger, ...(options.port !== undefined ? { port: Number(options.port) } : {}) });
      closeOnSignals(starting, logger, { graceMs: 30_000, redis: { url: config.redisUrl, timeoutMs: config.shutdownRedisTimeoutMs } });
      await starting;
    });
}
