import type { BatchStore } from './batch-store.js';

/** A run's batch mode at a glance (part of run status when the run has batch-mode stages). */
export interface BatchStatus {
  /**
   * Batches by state: `submitting` (recorded, not yet accepted by Gemini), Gemini's state while
   * it holds them (`pending`, `running`; `succeeded`… for a moment while their results are
   * stored), then their final state once consumed: succeeded, failed, expired, cancelled,
   * refused (Gemini would not take it), empty (every request answered elsewhere before it was sent).
   */
  batches: Record<string, number>;
  requests: {
    /** Waiting for a batch to fill. */
    pending: number;
    /** In batches at Gemini. */
    inBatches: number;
    /** Answered inside a batch. */
    answered: number;
    /** Failed inside a batch (or their batch ended without results too often): re-driven online. */
    failed: number;
    /** Put back to pending because their batch failed, expired or was cancelled. */
    requeued: number;
    /** Re-driven online and answered there. */
    online: number;
  };
  /** Per model, why its batches cannot be submitted right now (a 429 and which limit), if so. */
  limits: Record<string, string>;
}

/** The run's batch status, or undefined when the run never had a batch-mode request. */
export async function readBatchStatus(store: BatchStore, runId: string): Promise<BatchStatus | undefined> {
  const [stats, records, pending] = await Promise.all([store.stats(runId), store.records(runId), store.pending(runId)]);
  if (Object.keys(stats).length === 0 && records.length === 0 && pending.length === 0) return undefined;
  const batches: Record<string, number> = {};
  const limits: Record<string, string> = {};
  for (const [field, value] of Object.entries(stats)) {
    if (field.startsWith('batches:')) batches[field.slice('batches:'.length)] = Number(value);
    else if (field.startsWith('limit:')) limits[field.slice('limit:'.length)] = value;
  }
  let inBatches = 0;
  for (const record of records) {
    const state = record.state === 'submitting' ? 'submitting' : (record.remoteState ?? 'JOB_STATE_PENDING').replace(/^JOB_STATE_/, '').toLowerCase();
    batches[state] = (batches[state] ?? 0) + 1;
    inBatches += record.count;
  }
  const n = (field: string) => Number(stats[field] ?? 0);
  return {
    batches,
    requests: {
      pending: pending.reduce((sum, p) => sum + p.count, 0),
      inBatches,
      answered: n('requests:answered'),
      failed: n('requests:failed'),
      requeued: n('requests:requeued'),
      online: n('requests:online'),
    },
    limits,
  };
}
