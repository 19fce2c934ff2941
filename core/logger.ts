import { pino, type Logger } from 'pino';

/**
 * One root logger per process; components take children with fixed keys
 * (`component`, `stage`, `runId`, `taskId`) and log errors as `{ err }`.
 */
export function createLogger(level = process.env.LOG_LEVEL || 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}

export type { Logger };
