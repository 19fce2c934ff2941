import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { ApiTokens } from '../../core/auth/api-tokens.js';
import type { FarmMetrics } from '../../core/metrics.js';
import type { StageQueues } from '../../core/queues.js';
import type { RunStore } from '../../core/runs/run-store.js';
import type { PriceTable } from '../../core/cost/price-table.js';
import type { PromptLibrary } from '../../core/prompts/prompt-library.js';

/** What the routes need from the farm; built by the process that runs the API. */
export interface FarmServices {
  redis: Redis;
  prefix: string;
  runs: RunStore;
  queues: StageQueues;
  dataDir: string;
  /** Attempts a re-driven task gets. */
  taskAttempts: number;
  /** A run's lease TTL: how long a delete waits for the run's owner to let it go. */
  leaseTtlMs: number;
  metrics: FarmMetrics;
  /** The farm's daily budgets per model (SDF_DAILY_BUDGET_USD), shown in the status of runs that call them. */
  dailyBudgetUsd?: Record<string, number>;
  /** The tokens the API accepts, with their roles (SDF_API_TOKEN, SDF_API_TOKENS_FILE). @defaultValue apiToken's alone */
  apiTokens?: ApiTokens;
  /** One admin token, like SDF_API_TOKEN alone; ignored when `apiTokens` is given. @defaultValue none: an open API */
  apiToken?: string | undefined;
  /** Prices for the dry-run estimate and the status projection. @defaultValue the built-in table */
  prices?: PriceTable;
  /** Templates the estimate renders (PROMPTS_DIR first). @defaultValue the built-in templates */
  prompts?: PromptLibrary;
}

declare module 'fastify' {
  interface FastifyInstance {
    farm: FarmServices;
  }
}

export const farmServicesPlugin = fp<{ services: FarmServices }>(
  async (app, { services }) => {
    app.decorate('farm', services);
  },
  { name: 'farm-services' },
);
