import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { closeOnSignals } from '../../core/shutdown.js';
import { isStage, type Stage } from '../../core/stages.js';
import { startWorkerProcess } from '../../workers/main.js';
import { geminiFromConfig } from '../gemini-from-config.js';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker process: takes tasks from every stage queue and calls Gemini')
    .option('--port <port>', 'port of /metrics, /healthz, /readyz; the same as --metrics-port (default WORKER_METRICS_PORT, else PORT, else 9464; 0 = any)')
    .option('--metrics-port <port>', 'the same as --port')
    .option('--concurrency <n>', 'tasks held at once by this process, every stage together (default WORKER_CONCURRENCY or 32)')
    .option('--stages <list>', 'comma-separated stages to serve (default all)')
    .addHelpText('after', examples('GEMINI_API_KEY=... sdf-farm worker --concurrency 64', 'GEMINI_BASE_URL=http://127.0.0.1:8090 sdf-farm worker --stages documents,revise'))
    .action(async (options: { port?: string; metricsPort?: string; concurrency?: string; stages?: string }) => {
      const env = { ...process.env };
      // Every long-running command takes --port; a worker's only port is its metrics server.
      if (options.port !== undefined && options.metricsPort !== undefined && options.port !== options.metricsPort) {
        throw new Error(`--port ${options.port} and --metrics-port ${options.metricsPort} disagree: they name the same port; give one`);
      }
      const port = options.metricsPort ?? options.port;
      if (port !== undefined) env.WORKER_METRICS_PORT = port;
      if (options.concurrency !== undefined) env.WORKER_CONCURRENCY = options.concurrency;
      const config = loadConfig(env);
      const logger = createLogger(config.logLevel, { component: 'worker' });
      const stages = options.stages?.split(',').map((s) => s.trim());
      const unknown = stages?.filter((s) => !isStage(s));
      if (unknown?.length) throw new Error(`--stages: unknown stage(s) ${unknown.join(', ')}`);
      const gemini = geminiFromConfig(config);
      if (!gemini) throw new Error('set GEMINI_API_KEY (real Gemini) or GEMINI_BASE_URL (a simulator, e.g. sdf-farm sim)');
      const starting = startWorkerProcess({ config, gemini, logger, ...(stages ? { stages: stages as Stage[] } : {}) });
      closeOnSignals(starting, logger, { graceMs: config.requestTimeoutMs + 30_000, redis: { url: config.redisUrl, timeoutMs: config.shutdownRedisTimeoutMs } });
      await starting;
    });
}
