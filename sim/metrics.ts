import { Counter, Gauge, Registry } from 'prom-client';

/** What the farm did to the provider, as Prometheus counters (its own registry). */
export function createSimMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: 'sdf_sim_requests_total', help: 'Simulator requests by model and HTTP status code.', labelNames: ['model', 'code'], registers: [registry] }),
    tokens: new Counter({ name: 'sdf_sim_tokens_total', help: 'Tokens the simulator counted, by model and kind (prompt, output).', labelNames: ['model', 'kind'], registers: [registry] }),
    inFlight: new Gauge({ name: 'sdf_sim_inflight_requests', help: 'Model requests received and not yet answered.', registers: [registry] }),
    planted: new Counter({ name: 'sdf_sim_planted_patterns_total', help: 'Superficial patterns planted, by pattern.', labelNames: ['pattern'], registers: [registry] }),
  };
}

export type SimMetrics = ReturnType<typeof createSimMetrics>;
