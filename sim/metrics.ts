import { Counter, Gauge, Registry } from 'prom-client';

/** What the farm did to the provider, as Prometheus counters (its own registry). */
export function createSimMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: 'sdf_sim_requests_total', help: 'Online model requests (generateContent, countTokens) by model and HTTP status code.', labelNames: ['model', 'code'], registers: [registry] }),
    batchRequests: new Counter({ name: 'sdf_sim_batch_requests_total', help: 'Requests answered inside batches, by model and code (200, or the error\'s HTTP code).', labelNames: ['model', 'code'], registers: [registry] }),
    calls: new Counter({ name: 'sdf_sim_calls_total', help: 'Every API call received, by kind (the SDK method: models.generateContent, batches.get, files.upload, caches.create...).', labelNames: ['kind'], registers: [registry] }),
    tokens: new Counter({ name: 'sdf_sim_tokens_total', help: 'Tokens the simulator counted, by model and kind (prompt, output, cached: the part of prompt answered from a cache).', labelNames: ['model', 'kind'], registers: [registry] }),
    inFlight: new Gauge({ name: 'sdf_sim_inflight_requests', help: 'Model requests received and not yet answered.', registers: [registry] }),
    planted: new Counter({ name: 'sdf_sim_planted_patterns_total', help: 'Superficial patterns planted, by pattern.', labelNames: ['pattern'], registers: [registry] }),
  };
}

export type SimMetrics = ReturnType<typeof createSimMetrics>;
