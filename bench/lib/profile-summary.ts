/**
 * A V8 `.cpuprofile` (node --cpu-prof) reduced to where a process spends its CPU: self time by
 * part of the system (the SDK and its HTTP client, the filters, the Redis client, BullMQ, GC…)
 * and the heaviest functions, as shares of the busy (non-idle) time. The notes of a missed
 * performance target cite this, so it is saved with the benchmark's figures.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Ordered: the first whose test matches a frame names its part. */
const PARTS: [string, (url: string, fn: string) => boolean][] = [
  ['garbage collection', (_u, fn) => fn === '(garbage collector)'],
  ['Gemini SDK (@google/genai)', (u) => u.includes('@google/genai')],
  ['HTTP client (undici, web streams, abort signals)', (u) => /undici|webstreams|abort_controller|js_transferable|internal\/streams|internal\/url/.test(u)],
  ['filters (core/filters)', (u) => u.includes('/core/filters/')],
  ['Redis client (ioredis)', (u) => u.includes('/ioredis/') || u.includes('redis-parser') || u.includes('/denque/')],
  ['BullMQ', (u) => u.includes('/bullmq/')],
  ['metrics (prom-client)', (u) => u.includes('/prom-client/')],
  ['logging (pino)', (u) => u.includes('/pino')],
  ['worker code (workers/)', (u) => u.includes('/workers/')],
  ['farm core (core/)', (u) => u.includes('/core/')],
  ['socket writes and reads', (_u, fn) => /^(writeBuffer|writev|writeUtf8String|onStreamRead|readableAddChunk)$/.test(fn)],
  ['regular expressions', (_u, fn) => fn.startsWith('RegExp:')],
  ['promises and microtasks', (_u, fn) => fn === 'runMicrotasks' || fn === 'processTicksAndRejections'],
  ['JSON', (_u, fn) => fn === 'parse' || fn === 'stringify' || fn === 'parseJSONFromBytes'],
];

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Share of busy time by part, largest first (self time of the frames in that part). */
  parts: { part: string; share: number }[];
  /** The heaviest functions by self time. */
  functions: { fn: string; share: number }[];
}

export function summarizeProfile(path: string, topFunctions = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let idle = 0;
  let busy = 0;
  const parts = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName: fn, url, lineNumber } = nodes.get(id)!.callFrame;
    if (fn === '(idle)' || fn === '(program)') {
      idle += us;
      continue;
    }
    busy += us;
    const part = PARTS.find(([, test]) => test(url, fn))?.[0] ?? 'other (Node internals, native)';
    parts.set(part, (parts.get(part) ?? 0) + us);
    const where = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist\/)?(?=(core|workers|producer|sim|api|bin)\/)/, '');
    const key = `${fn || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + us);
  }
  const shares = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +(v / busy).toFixed(4)] as const);
  return {
    busyMs: Math.round(busy / 1000),
    idleMs: Math.round(idle / 1000),
    parts: shares(parts).map(([part, share]) => ({ part, share })),
    functions: shares(functions).slice(0, topFunctions).map(([fn, share]) => ({ fn, share })),
  };
}

// `node --import tsx bench/lib/profile-summary.ts <file.cpuprofile>`: print one profile's summary.
if (import.meta.url === `file://${process.argv[1]}`) {
  const summary = summarizeProfile(process.argv[2]!);
  console.log(`busy ${summary.busyMs} ms, idle ${summary.idleMs} ms`);
  for (const { part, share } of summary.parts) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${part}`);
  console.log('--- heaviest functions (self time)');
  for (const { fn, share } of summary.functions) console.log(`${(share * 100).toFixed(1).padStart(5)}%  ${fn}`);
}
