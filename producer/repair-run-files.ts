import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { runKeys } from '../core/keys.js';
import type { RunLedger } from '../core/runs/run-ledger.js';
import { publishResult } from '../core/runs/run-results.js';
import { committedRecords, runFilePath, type RunFile } from '../core/runs/run-files.js';
import { isStage, type Stage } from '../core/stages.js';
import { ZERO_USAGE, taskId } from '../core/task.js';
import type { Cursor, Expander } from './expander.js';
import type { RunPlan } from './expansion-plan.js';

export interface RepairDeps {
  redis: Redis;
  prefix: string;
  dataDir: string;
  ledger: RunLedger;
  expander: Expander;
  runId: string;
  plan: RunPlan;
  token: string;
}

/** What a committed task left in the files. */
interface Evidence {
  accepted: boolean;
  rejectedFinal: boolean;
  items: number;
  subRejections: string[];
}

const TASK_ID = /^([a-z-]+)-(\d+)(?:\.|$)/;

/**
 * The repair path for files that lost committed bytes (a host crash with fsync off, a disk that
 * lied): every file is cut back to its last whole line, the tasks whose output is no longer in
 * any file (every committed task but a dead-lettered one leaves at least one line naming it) get
 * their done bits cleared and run again, the run's counters are counted again from the files,
 * and cursors that pointed past a cut are moved back. Re-derived, never guessed: nothing that
 * survived is written twice. A lost task whose own input line was lost too is dead-lettered.
 */
export async function repairRunFiles(deps: RepairDeps): Promise<{ files: Record<string, { committed: number; kept: number }>; lost: number; requeued: number }> {
  const { redis, prefix, dataDir, runId, plan, ledger, expander, token } = deps;
  const k = runKeys(prefix, runId);
  const offsets = await redis.hgetall(k.offsets);
  const files: Record<string, { committed: number; kept: number }> = {};
  for (const [file, raw] of Object.entries(offsets)) {
    const committed = Number(raw);
    files[file] = { committed, kept: cutToWholeLines(runFilePath(dataDir, runId, file as RunFile), committed) };
  }

  const evidence = new Map<string, Evidence>();
  const reasons = new Map<string, number>();
  const of = (stage: string, index: string) => {
    const key = `${stage}:${index}`;
    let e = evidence.get(key);
    if (!e) evidence.set(key, (e = { accepted: false, rejectedFinal: false, items: 0, subRejections: [] }));
    return e;
  };
  for (const [file, { kept }] of Object.entries(files)) {
    for await (const line of committedRecords(runFilePath(dataDir, runId, file as RunFile), kept)) {
      // Item lines name their task in `src`, records and rejections in `id` / `task`.
      const owner = TASK_ID.exec(String(line.src ?? line.task ?? line.id ?? ''));
      if (!owner || !isStage(owner[1]!)) continue;
      if (file === 'rejected') {
        const reason = `${owner[1]}:reason:${String(line.reason)}`;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        const e = of(owner[1]!, owner[2]!);
        e.rejectedFinal = true;
        e.subRejections.push(String(line.reason));
      } else if (line.ended === 'rejected') {
        // A multi-turn chat its rejected turn ended: the task was rejected (its rejection line says so).
        of(owner[1]!, owner[2]!);
      } else {
        const e = of(owner[1]!, owner[2]!);
        e.accepted = true;
        if (line.src) e.items++;
      }
    }
  }

  const dead = new Set(await redis.hkeys(k.deadLetters));
  const clear: { stage: Stage; index: number }[] = [];
  const setCounters: Record<string, number> = Object.fromEntries(reasons);
  const stats = await redis.hkeys(k.stats);
  for (const stage of plan.stages) {
    const bitmap = (await redis.getBuffer(k.done(stage))) ?? Buffer.alloc(0);
    const count = { done: 0, accepted: 0, rejected: 0, failed: 0, items: 0, itemsRejected: 0 };
    for (let index = 0; index < bitmap.length * 8; index++) {
      if (!((bitmap[index >> 3]! >> (7 - (index & 7))) & 1)) continue;
      const key = `${stage}:${index}`;
      const e = evidence.get(key);
      if (dead.has(key)) count.failed++;
      else if (e?.accepted) {
        count.accepted++;
        count.items += e.items;
        count.itemsRejected += e.subRejections.length;
      } else if (e?.rejectedFinal) count.rejected++;
      else {
        clear.push({ stage, index });
        continue;
      }
      count.done++;
    }
    for (const [name, n] of Object.entries(count)) setCounters[`${stage}:${name}`] = n;
  }
  const deleteCounters = stats.filter((field) => {
    const [stage, kind] = field.split(':');
    return isStage(stage ?? '') && kind !== 'enqueued' && !(field in setCounters);
  });

  const cursors: Record<string, string> = {};
  const rawCursors = await redis.hgetall(k.cursors);
  for (const expansion of plan.expansions) {
    const raw = rawCursors[expansion.source];
    const kept = files[expansion.source]?.kept;
    if (!raw || kept === undefined) continue;
    const cursor = JSON.parse(raw) as Cursor;
    if (cursor.offset > kept) cursors[expansion.source] = JSON.stringify({ offset: kept, sub: 0, next: cursor.next });
  }
  const newOffsets = Object.fromEntries(Object.entries(files).map(([file, f]) => [file, f.kept]));
  await ledger.repair(runId, token, { deleteCounters, setCounters, offsets: newOffsets, cursors, clear }, plan.stages);

  let requeued = 0;
  for (const stage of new Set(clear.map((t) => t.stage))) {
    const indices = clear.filter((t) => t.stage === stage).map((t) => t.index);
    const inputs = await expander.inputsOf(runId, plan, stage, indices);
    for (const index of indices) {
      const input = inputs.get(index);
      if (input) {
        await expander.enqueueAgain([{ runId, stage, index, input, generation: await ledger.nextGeneration(runId, stage, index) }]);
        requeued++;
      } else {
        await publishResult(redis, prefix, { runId, stage, index, id: taskId(stage, index), outcome: 'failed', model: 'unknown', usage: ZERO_USAGE, attempts: 0, error: 'output lost in a crash, and the input line it came from was lost too', input: {} });
      }
    }
  }
  return { files, lost: clear.length, requeued };
}

/** Cuts a file to its last newline at or before `committed`; returns the kept length. */
function cutToWholeLines(path: string, committed: number): number {
  if (!existsSync(path)) return 0;
  const fd = openSync(path, 'r+');
  try {
    let end = Math.min(committed, fstatSync(fd).size);
    const buffer = Buffer.alloc(64 * 1024);
    let kept = 0;
    while (end > 0) {
      const start = Math.max(0, end - buffer.length);
      const n = readSync(fd, buffer, 0, end - start, start);
      const newline = buffer.subarray(0, n).lastIndexOf(10);
      if (newline !== -1) {
        kept = start + newline + 1;
        break;
      }
      end = start;
    }
    ftruncateSync(fd, kept);
    return kept;
  } finally {
    closeSync(fd);
  }
}
