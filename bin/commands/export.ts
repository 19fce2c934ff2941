import { createWriteStream, existsSync, truncateSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Option, type Command } from 'commander';
import { OUTPUT_FORMATS } from '../../api/export/format-records.js';
import type { ExportKind, FarmApiClient } from '../api-client.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ExportLines, readExportFileState } from '../export-file.js';
import { examples } from '../help-examples.js';
import { remoteCommand, type RemoteOptions } from '../remote-command.js';

interface ExportOptions extends RemoteOptions {
  kind: ExportKind;
  format: string;
  output?: string;
  restart?: boolean;
}

/** `sdf-farm export RUN`: a run's committed records, streamed; into a file, resumable. */
export function registerExportCommand(program: Command): void {
  remoteCommand<ExportOptions>(program, 'export', exportRun)
    .description("stream a run's committed records as JSONL to stdout or a file; a file an interrupted export left is continued, not restarted")
    .argument('<run>', 'run id (run_…)')
    .addOption(new Option('--kind <kind>', 'which records').choices(['documents', 'chats', 'rejected']).default('documents'))
    .addOption(new Option('--format <format>', 'raw (as stored), text (documents), messages or gemini (chats)').choices([...OUTPUT_FORMATS]).default('raw'))
    .option('-o, --output <file>', 'write to FILE (default stdout); if FILE holds whole lines of an earlier export, continue after them')
    .option('--restart', 'with -o: overwrite FILE instead of continuing it')
    .addHelpText(
      'after',
      examples(
        'sdf-farm export run_0mabc123de45f6 --kind documents --format text -o docs.jsonl',
        'sdf-farm export run_0mabc123de45f6 --kind chats --format messages > chats.jsonl',
      ) + '\nRun the same -o command again after an interruption: it asks the farm for the records after the ones FILE holds.\n',
    );
}

async function exportRun(client: FarmApiClient, [runId]: string[], options: ExportOptions): Promise<number> {
  const file = options.output;
  const what = `${options.kind} (${options.format}) of run ${runId}`;
  let skip = 0;
  let keepBytes = 0;
  let lastLine: Buffer | undefined;
  if (file && !options.restart && existsSync(file)) {
    const state = await readExportFileState(file);
    skip = state.lines;
    keepBytes = state.completeBytes;
    lastLine = state.lastLine;
  }
  // Resuming asks for one record more than needed: the overlap proves FILE is this export.
  const body = await client.exportStream(runId!, { kind: options.kind, format: options.format, offset: Math.max(0, skip - 1) });
  const lines = new ExportLines(lastLine, file ?? 'stdout');
  try {
    // Written from the end of FILE's last whole line: a record cut off there is written again,
    // whole. Nothing is written before the overlap check passes, so a refused FILE stays as it was.
    const sink = file ? createWriteStream(file, skip > 0 ? { flags: 'r+', start: keepBytes } : { flags: 'w' }) : process.stdout;
    await pipeline(Readable.fromWeb(body as WebReadableStream), lines, sink);
    // What followed the last whole line and was not overwritten goes (a cut-off record the export no longer has).
    if (file && skip > 0) truncateSync(file, keepBytes + lines.bytes);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return EXIT.ok; // `| head`: the reader has what it wants
    if ((err as NodeJS.ErrnoException).syscall) throw new CliError(`${file ?? 'stdout'}: ${(err as Error).message}`, EXIT.failed);
    const resume = file ? 'run the same command again to continue where it stopped' : 'use -o FILE to be able to resume';
    throw new CliError(`the export of ${what} from ${client.baseUrl} broke off after ${skip + lines.records} records (${(err as Error).message}); ${resume}`, EXIT.unreachable);
  }
  const summary = { id: runId, kind: options.kind, format: options.format, records: skip + lines.records, written: lines.records, resumedAfter: skip, ...(file ? { file } : {}) };
  // With the records on stdout, the summary goes to stderr, out of their way.
  const out = file ? process.stdout : process.stderr;
  if (options.json) out.write(JSON.stringify(summary) + '\n');
  else if (file) out.write(`${summary.records} records of ${what} in ${file}${skip ? ` (${skip} were there; ${lines.records} added)` : ''}\n`);
  return EXIT.ok;
}
