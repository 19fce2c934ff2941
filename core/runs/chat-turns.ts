import type { Stage } from '../stages.js';

/**
 * Per-turn counts of multi-turn chats, kept in the run's stats hash beside the stage counters
 * (written by the run's owner in its commits, like every counter; producer/commit-batch.ts).
 * Field: `chat-turn:<turn>:<stage>:<outcome>`.
 */
const PREFIX = 'chat-turn';

export function chatTurnCounter(turn: number, stage: Stage, outcome: string): string {
  return `${PREFIX}:${turn}:${stage}:${outcome}`;
}

export interface TurnCounts {
  accepted: number;
  rejected: number;
  failed: number;
}

/**
 * `turns`: the assistant's answers (chat-responses) per turn; `userTurns`: the user simulator's
 * messages (chat-user) per turn, from turn 2. Keys are turn numbers.
 */
export interface ChatTurnsStatus {
  turns: Record<string, TurnCounts>;
  userTurns: Record<string, TurnCounts>;
}

/** The per-turn counts out of a run's stats; undefined when the run has none (single-turn chats, or none yet). */
export function readChatTurns(stats: Record<string, number>): ChatTurnsStatus | undefined {
  const status: ChatTurnsStatus = { turns: {}, userTurns: {} };
  let found = false;
  for (const [field, value] of Object.entries(stats)) {
    const [prefix, turn, stage, outcome] = field.split(':');
    if (prefix !== PREFIX || !turn || (outcome !== 'accepted' && outcome !== 'rejected' && outcome !== 'failed')) continue;
    const table = stage === 'chat-responses' ? status.turns : stage === 'chat-user' ? status.userTurns : undefined;
    if (!table) continue;
    (table[turn] ??= { accepted: 0, rejected: 0, failed: 0 })[outcome] = value;
    found = true;
  }
  return found ? status : undefined;
}
