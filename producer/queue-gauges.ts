import type { FarmMetrics } from '../core/metrics.js';
import type { StageQueues } from '../core/queues.js';
import type { RunStore } from '../core/runs/run-store.js';
import { RUN_STATES } from '../core/runs/run-state.js';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

/** Samples BullMQ queue depth per stage and run counts by state into gauges, on each scrape. */
export function registerQueueGauges(metrics: FarmMetrics, queues: StageQueues, runs: RunStore): void {
  metrics.collectors.queueJobs = async (gauge) => {
    for (const [stage, queue] of Object.entries(queues)) {
      const counts = await queue.getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) gauge.set({ stage, state }, counts[state] ?? 0);
    }
  };
  metrics.collectors.runs = async (gauge) => {
    const counts = await runs.countByState();
    for (const state of RUN_STATES) gauge.set({ state }, counts[state]);
  };
}
