import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Fields that may carry an API token: request headers (Bearer and Basic credentials, cookies) and
 * any `token`/`apiToken` field one or two levels deep. Their values are logged as `[redacted]`.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'request.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  'apiToken',
  '*.token',
  '*.apiToken',
  '*.authorization',
  '*.*.token',
] as const;

/**
 * One root logger per process; components take children with fixed keys
 * (`component`, `stage`, `runId`, `taskId`) and log errors as `{ err }`. `destination` is for
 * tests that read what was logged.
 */
export function createLogger(level = process.env.LOG_LEVEL || 'info', bindings: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
