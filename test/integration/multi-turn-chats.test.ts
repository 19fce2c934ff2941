import { createHash } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Queue } from 'bullmq';
import t, { type Test } from 'tap';
import type { RunStatus } from '../../core/runs/run-status.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

interface Message {
  role: string;
  content: string;
}
type Chat = Record<string, unknown> & { id: string; conversation: string; turns: number; ended: string; messages: Message[]; moves: string[] };

/** Short locks so a killed worker's tasks come back in seconds, not a minute. */
const FAST_RECOVERY = { SDF_LOCK_DURATION_MS: '3000', SDF_STALLED_INTERVAL_MS: '1000' };

const TRAITS = ['Aster admits uncertainty plainly and gives numbers.', 'Aster disagrees politely when the evidence warrants it.'];
const spec = (promptsPerTrait: number, extra: Record<string, unknown> = {}) => ({
  universe: TRAITS.map((s) => `- ${s}`).join('\n'),
  traits: TRAITS,
  chats: { promptsPerTrait, turns: 3 },
  ...extra,
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every chat alternates user/assistant from a user message to an answer, with no system message, and says how many turns it holds. */
function checkShape(t: Test, chats: Chat[]): void {
  let bad = 0;
  for (const chat of chats) {
    const roles = chat.messages.map((m) => m.role);
    const alternating = roles.every((role, i) => role === (i % 2 === 0 ? 'user' : 'assistant'));
    if (!alternating || roles.length === 0 || roles.length % 2 !== 0 || chat.turns !== roles.length / 2 || chat.messages.some((m) => !m.content)) bad++;
  }
  t.equal(bad, 0, `all ${chats.length} chats alternate user/assistant, end on an answer, hold their turns and no system message`);
}

/** Per turn, from the export: conversations that reached it (so hold its answer). */
function exportedPerTurn(chats: Chat[], turns: number): Record<string, number> {
  const per: Record<string, number> = {};
  for (let turn = 1; turn <= turns; turn++) per[turn] = chats.filter((c) => c.turns >= turn).length;
  return per;
}

/** Same conversations, each once, turns contiguous: no conversation twice, no answer twice. */
function checkUnique(t: Test, chats: Chat[]): void {
  const conversations = chats.map((c) => c.conversation);
  t.equal(new Set(conversations).size, conversations.length, 'no conversation is exported twice');
  const answers = chats.flatMap((c) => c.messages.filter((m) => m.role === 'assistant').map((m) => createHash('sha256').update(m.content).digest('hex')));
  t.equal(new Set(answers).size, answers.length, 'no answer appears twice');
}

function perTurn(status: RunStatus, table: 'turns' | 'userTurns', outcome: 'accepted' | 'rejected' | 'failed'): Record<string, number> {
  return Object.fromEntries(Object.entries(status.chats?.[table] ?? {}).map(([turn, counts]) => [turn, counts[outcome]]));
}

let farm: TestFarm;

/** A window smaller than the conversations: Redis holds a window of tasks (each with its conversation), whatever the run's size. */
const WINDOW = 8;

t.before(async () => {
  // One farm for the file; the chat answers carry the simulator's planted patterns, so some turns are rejected.
  farm = await startTestFarm(t, { env: { ...FAST_RECOVERY, SDF_RUN_WINDOW: String(WINDOW) }, sim: { latencyMs: 20 } });
});

/** Waits for the run's end, sampling the tasks it has in Redis (queued or active, every stage) on the way. */
async function waitSampling(runId: string): Promise<{ status: RunStatus; mostInRedis: number }> {
  let most = 0;
  for (;;) {
    const status = await farm.status(runId);
    const inRedis = Object.values(status.stages).reduce((n, s) => n + s.queued + s.active, 0);
    most = Math.max(most, inRedis);
    if (status.state !== 'queued' && status.state !== 'running') return { status, mostInRedis: most };
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('a 3-turn chat run exports alternating user/assistant conversations; every turn is counted, rejected ones as rejected', async (t) => {
  const worker = await farm.startWorker({ workerConcurrency: 16 });
  t.teardown(() => worker.close(2000));
  const runId = await farm.submit(spec(12));
  const { status, mostInRedis } = await waitSampling(runId);
  t.equal(status.state, 'completed');
  t.ok(mostInRedis <= WINDOW && mostInRedis > 0, `at most the window of tasks in Redis at once (${mostInRedis} of ${WINDOW}), for 24 conversations`);

  const chats = (await farm.exportLines(runId, 'chats')) as Chat[];
  checkShape(t, chats);
  checkUnique(t, chats);
  const messages = await farm.exportLines(runId, 'chats', 'messages');
  t.equal(messages.length, chats.length);
  t.notOk(
    messages.some((m) => (m.messages as Message[]).some((x) => x.role === 'system')),
    'the messages export has no system message',
  );
  t.ok(chats.some((c) => c.turns === 3 && c.ended === 'complete'), 'some conversations reach turn 3');
  t.ok(chats.every((c) => c.moves.length === c.turns - 1), "each chat names its user simulator's move for every turn after the first");

  const accepted = perTurn(status, 'turns', 'accepted');
  t.same(accepted, exportedPerTurn(chats, 3), `accepted answers per turn = exported conversations reaching that turn (${JSON.stringify(accepted)})`);
  const rejected = perTurn(status, 'turns', 'rejected');
  const finalRejections = (await farm.exportLines(runId, 'rejected')).filter((r) => r.stage === 'chat-responses' && !String(r.id).includes('.a'));
  for (const turn of ['1', '2', '3']) {
    const here = finalRejections.filter((r) => ((r.provenance as { turn?: number }).turn ?? 1) === Number(turn)).length;
    t.equal(rejected[turn] ?? 0, here, `turn ${turn}: ${here} rejected answers, in status and in rejected.jsonl`);
  }
  t.ok(Object.values(rejected).reduce((a, b) => a + b, 0) > 0, `some turns were rejected (${JSON.stringify(rejected)})`);
  // A rejected later turn ends its conversation at the turn before: those chats are exported too.
  const endedEarly = chats.filter((c) => c.ended === 'rejected').length;
  const laterRejected = (rejected['2'] ?? 0) + (rejected['3'] ?? 0) + Object.values(perTurn(status, 'userTurns', 'rejected')).reduce((a, b) => a + b, 0);
  t.equal(endedEarly, laterRejected, 'every conversation a later turn ended is exported, cut at its last accepted turn');
  const prompts = status.stages['chat-prompts']!.items;
  t.ok(prompts > 20, `${prompts} prompts (repeats are dropped)`);
  t.equal(chats.length + (rejected['1'] ?? 0), prompts, 'every prompt is a conversation, unless its first answer was rejected');

  const responses = status.stages['chat-responses']!;
  const turnsDone = ['turns', 'userTurns'].map((table) =>
    Object.values(status.chats?.[table as 'turns'] ?? {}).reduce((n, c) => n + c.accepted + c.rejected + c.failed, 0),
  );
  t.equal(turnsDone[0], responses.done, 'the per-turn answers add up to the chat-responses tasks');
  t.equal(turnsDone[1], status.stages['chat-user']!.done, 'the per-turn user messages add up to the chat-user tasks');
  t.same(perTurn(status, 'userTurns', 'accepted'), Object.fromEntries(['2', '3'].map((turn) => [turn, accepted[String(Number(turn) - 1)]! - (perTurn(status, 'userTurns', 'rejected')[turn] ?? 0)]).filter(([, n]) => n)), 'the user simulator wrote a message for every conversation that went on');

  const metrics = await worker.metrics.registry.getSingleMetric('sdf_chat_turns_total')!.get();
  const answered3 = metrics.values.filter((v) => v.labels.stage === 'chat-responses' && v.labels.turn === '3').reduce((n, v) => n + v.value, 0);
  t.equal(answered3, (accepted['3'] ?? 0) + (rejected['3'] ?? 0), 'sdf_chat_turns_total{turn="3"} counts the third turns');
});

t.test('a worker killed mid-conversation loses no accepted turn and doubles none', async (t) => {
  // Slower answers so the worker dies holding turn-2 tasks.
  farm.sim.options.latencyMs = 300;
  t.teardown(() => void (farm.sim.options.latencyMs = 20));
  const doomed = await farm.spawnWorker({ WORKER_CONCURRENCY: '16' });
  const runId = await farm.submit(spec(8, { seed: 1 }));
  const queue = new Queue('chat-responses', { connection: { url: TEST_REDIS_URL }, prefix: farm.config.prefix });
  t.teardown(() => queue.close());
  await waitUntil(async () => {
    const active = await queue.getActive();
    return active.filter((job) => job.data.runId === runId && job.data.input.turn === 2).length >= 3;
  });
  doomed.kill('SIGKILL');
  await exited(doomed);
  const replacement = await farm.startWorker({ workerConcurrency: 8 });
  t.teardown(() => replacement.close(2000));

  const status = await farm.waitFor(runId, undefined, 45_000);
  t.equal(status.state, 'completed');
  t.equal(status.deadLetters, 0, 'no task was dead-lettered');
  const chats = (await farm.exportLines(runId, 'chats')) as Chat[];
  checkShape(t, chats);
  checkUnique(t, chats);
  t.same(perTurn(status, 'turns', 'accepted'), exportedPerTurn(chats, 3), 'every accepted turn is in the export, once');
  const rejected = perTurn(status, 'turns', 'rejected');
  t.equal(chats.length + (rejected['1'] ?? 0), status.stages['chat-prompts']!.items, 'every conversation is there, unless its first answer was rejected');
  const responses = status.stages['chat-responses']!;
  t.equal(responses.accepted + responses.rejected + responses.failed, responses.done);
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}
