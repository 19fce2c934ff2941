import { readFileSync } from 'node:fs';
import type { FarmConfig } from '../core/config.js';
import { roleGrants } from '../core/auth/api-roles.js';
import { parseTokenFile } from '../core/auth/token-file.js';
import type { Logger } from '../core/logger.js';
import { redisAnswers } from '../core/redis.js';
import type { Releasers } from '../core/releasers.js';
import { startFarmServer } from '../producer/main.js';
import { startSim, type SimOptions } from '../sim/index.js';
import { startWorkerProcess } from '../workers/main.js';
import { FarmApiClient } from './api-client.js';
import { geminiFromConfig } from './gemini-from-config.js';
import { startLocalRedis } from './local-redis.js';

export interface LocalFarm {
  /** The config the farm runs with (the private Redis's URL, when one was started). */
  config: FarmConfig;
  /** A client of the farm's own API, holding a token that may submit when the farm has tokens. */
  client: FarmApiClient;
}

/**
 * A whole farm in this process, for `sdf-farm run` and `sdf-farm eval` on one machine: a private
 * redis-server if none answers, the built-in simulator if no key is set, the API + producer, and
 * one worker. Everything started is pushed on `releasers`, so the caller's `finally` stops it.
 */
export async function startLocalFarm(options: { config: FarmConfig; logger: Logger; releasers: Releasers; port?: number; sim?: Partial<SimOptions> }): Promise<LocalFarm> {
  const { logger, releasers } = options;
  let config = options.config;
  if (!(await redisAnswers(config.redisUrl))) {
    const local = await startLocalRedis();
    releasers.push(() => local.stop());
    process.stderr.write(`no Redis at ${config.redisUrl}; started a private one at ${local.url}\n`);
    config = { ...config, redisUrl: local.url };
  }
  let gemini = geminiFromConfig(config);
  if (!gemini) {
    const sim = await startSim({ port: 0, ...options.sim });
    releasers.push(() => sim.close());
    process.stderr.write(`no GEMINI_API_KEY: using the built-in Gemini simulator at ${sim.url}\n`);
    gemini = geminiFromConfig(config, sim.url)!;
  }
  const server = await startFarmServer({ config, logger, port: options.port ?? 0, gemini });
  releasers.push(() => server.close());
  const worker = await startWorkerProcess({ config, gemini, logger, metricsServer: false });
  releasers.push(() => worker.close(5_000));
  return { config, client: new FarmApiClient({ baseUrl: server.api.url, token: ownToken(config) }) };
}

/** The token this process calls its own API with: SDF_API_TOKEN, else the file's first that may submit. */
function ownToken(config: FarmConfig): string | undefined {
  if (config.apiToken) return config.apiToken;
  if (!config.apiTokensFile) return undefined;
  const entry = parseTokenFile(readFileSync(config.apiTokensFile, 'utf8'), config.apiTokensFile).find((e) => roleGrants(e.role, 'submit'));
  if (!entry) throw new Error(`SDF_API_TOKENS_FILE ${config.apiTokensFile} has no token of role submit or admin for this run to submit with`);
  return entry.token;
}
