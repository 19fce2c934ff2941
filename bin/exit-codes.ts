import { ApiResponseError, ApiUnreachableError, ApiUsageError } from './api-client.js';

/** What every `sdf-farm` command's exit status means (README, "Remote CLI", lists them). */
export const EXIT = {
  ok: 0,
  /** The run ended but not `completed` (`submit --wait`, `watch`), or any other failure (5xx, I/O). */
  failed: 1,
  /** Bad usage (unknown option, bad value, unreadable file) or a 400 from the API: an invalid spec or parameter. */
  usage: 2,
  /** No answer from the API (nothing listens, DNS, connection broken mid-stream). */
  unreachable: 3,
  /** 401 or 403: no token, a wrong one, or one without the role. */
  auth: 4,
  /** 404: no such run. */
  notFound: 5,
  /** 409: the request conflicts with the run's state (an idempotency key reused for another spec, lost data). */
  conflict: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the command itself detected, with the exit status it stands for. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ApiUsageError) return EXIT.usage;
  if (err instanceof ApiUnreachableError) return EXIT.unreachable;
  if (err instanceof ApiResponseError) {
    if (err.status === 401 || err.status === 403) return EXIT.auth;
    if (err.status === 404) return EXIT.notFound;
    if (err.status === 409) return EXIT.conflict;
    if (err.status >= 400 && err.status < 500) return EXIT.usage;
  }
  return EXIT.failed;
}

/**
 * Prints a command's failure on stderr and returns its exit status: a message with the problems
 * one per line, or with `--json` one JSON object `{error, problems?, status?, exitCode}` a script can read.
 */
export function reportFailure(command: string, err: unknown, json: boolean): ExitCode {
  const exitCode = exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const problems = err instanceof ApiResponseError ? (err.body.problems ?? []) : err instanceof CliError ? err.problems : [];
  if (json) {
    const status = err instanceof ApiResponseError ? { status: err.status } : {};
    process.stderr.write(JSON.stringify({ error: message, ...(problems.length ? { problems } : {}), ...status, exitCode }) + '\n');
  } else {
    process.stderr.write(`sdf-farm ${command}: ${message}\n${problems.map((p) => `  ${p}\n`).join('')}`);
  }
  return exitCode;
}
