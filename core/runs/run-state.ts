export const RUN_STATES = ['queued', 'running', 'completed', 'cancelled', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const FINAL_STATES: readonly RunState[] = ['completed', 'cancelled', 'failed'];

export function isFinal(state: RunState): boolean {
  return FINAL_STATES.includes(state);
}
