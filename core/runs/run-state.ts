export const RUN_STATES = ['queued', 'running', 'completed', 'cancelled', 'failed', 'budget_exhausted'] as const;
export type RunState = (typeof RUN_STATES)[number];

/** States a run never leaves (a cancel or a completion of such a run changes nothing). */
export const FINAL_STATES: readonly RunState[] = ['completed', 'cancelled', 'failed'];

/**
 * States in which a run does no more work of its own: the final states, and `budget_exhausted`,
 * which is final until its budget is raised (`PATCH /v1/runs/:id`), and can still be cancelled or
 * deleted. Whoever waits for a run to end (status polling, the CLI) stops at these.
 */
export const ENDED_STATES: readonly RunState[] = [...FINAL_STATES, 'budget_exhausted'];

export function isFinal(state: RunState): boolean {
  return FINAL_STATES.includes(state);
}

export function hasEnded(state: RunState): boolean {
  return ENDED_STATES.includes(state);
}
