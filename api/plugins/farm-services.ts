import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { FarmMetrics } from '../../core/metrics.js';
import type { StageQueues } from '../../core/queues.js';
import type { RunStore } from '../../core/runs/run-store.js';

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
  /** Bearer token required on /v1 routes when set. */
  apiToken?: string | undefined;
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
