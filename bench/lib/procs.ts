/**
 * Helpers the benchmarks share: starting `sdf-farm` subcommands as child processes and reading a
 * process's CPU time and peak RSS from /proc (Linux), so every process of the farm is measured
 * the same way, whichever benchmark runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = new URL('../../', import.meta.url).pathname;
/** Kernel clock ticks per second, the unit of /proc/<pid>/stat's utime and stime. */
const TICKS = Number(process.env.BENCH_CLOCK_TICKS ?? 100);

export interface SpawnCliOptions {
  /** Extra Node flags before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Also write every line of its output to this file (e.g. for `--trace-gc`). */
  logFile?: string;
}

/**
 * The farm's processes run as shipped: the compiled `dist/` (`npm run bench` builds it first),
 * not the sources through tsx, whose loader thread and source maps are not what a deployment
 * runs. BENCH_FROM_SOURCE=1 runs the sources instead (no build step).
 */
const CLI = process.env.BENCH_FROM_SOURCE ? ['--import', 'tsx', join(ROOT, 'bin/sdf-farm.ts')] : [join(ROOT, 'dist/bin/sdf-farm.js')];

/** The command line of `sdf-farm <args>` (after the Node executable). */
export function cliArgs(args: string[], nodeArgs: string[] = []): string[] {
  return [...nodeArgs, ...CLI, ...args];
}

/**
 * Starts `sdf-farm <args>` and resolves when a line of its output matches `ready`
 * (with the match, e.g. the URL it listens on); rejects if it exits first.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, options: SpawnCliOptions = {}): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, cliArgs(args, options.nodeArgs), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const lines = createInterface({ input: child.stdout! });
    const errs = createInterface({ input: child.stderr! });
    const log = options.logFile ? createWriteStream(options.logFile) : undefined;
    const onLine = (line: string) => {
      log?.write(line + '\n');
      seen = (seen + line + '\n').slice(-4000);
      const match = ready.exec(line);
      if (match) resolve({ child, match });
    };
    lines.on('line', onLine);
    errs.on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${seen}`)));
  });
}

/** CPU seconds (user + system) and peak RSS (MB) of a process, from /proc. */
export function usage(pid: number): { cpuS: number; peakRssMb: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuS = (Number(fields[11]) + Number(fields[12])) / TICKS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return { cpuS, peakRssMb: Number(hwm?.[1] ?? 0) / 1024, rssMb: Number(rss?.[1] ?? 0) / 1024 };
}

/** Stops a child and waits for it to be gone (SIGTERM first when `graceful`, so it can write e.g. a --cpu-prof file). */
export async function stopChild(child: ChildProcess, graceful = false, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceful ? graceMs : 0);
  await gone;
  clearTimeout(timer);
}
