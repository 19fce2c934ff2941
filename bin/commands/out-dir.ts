import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Where `sdf-farm run` may write its exports. A run's own folder, DATA_DIR/<runId>/, belongs to
 * the producer: the export API reads its files while the export writes, so an export into it
 * truncates the very file being read, and `DELETE /v1/runs/:id` removes the folder with
 * everything in it. Exports therefore go elsewhere.
 */

/** A run's folder name under DATA_DIR (run ids are `run_` + lowercase base 36, see run-store.ts). */
const RUN_FOLDER = /^run_[a-z0-9]+$/;

/**
 * Default export folder: DATA_DIR/exports/<runId>. Beside the run folders, never one of them
 * (`exports` cannot be a run id), and under DATA_DIR so a run's data and its exports are found
 * (and cleaned up) together, whatever the working directory.
 */
export function defaultOutDir(dataDir: string, runId: string): string {
  return join(dataDir, 'exports', runId);
}

/**
 * Why `out` must not receive an export, or undefined if it may. Refused: any run's data folder
 * under `dataDir` or a folder inside one. Checked before the run exists, so it refuses every
 * run-shaped folder, not just the new run's. Symlinks are followed as far as the path exists,
 * so a link into a run folder is caught too.
 */
export function outDirProblem(dataDir: string, out: string): string | undefined {
  const base = realPathSoFar(dataDir);
  const target = realPathSoFar(out);
  const rel = relative(base, target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  const runFolder = rel.split(sep)[0]!;
  if (!RUN_FOLDER.test(runFolder)) return undefined;
  return (
    `--out ${out} is in a run's data folder (${join(dataDir, runFolder)}): the farm reads and deletes its files there, ` +
    `so an export into it can truncate or lose them; choose a folder outside DATA_DIR/<runId> (default ${join(dataDir, 'exports', '<runId>')})`
  );
}

/** The absolute path with symlinks resolved for the part that exists; the rest is appended as written. */
function realPathSoFar(path: string): string {
  let existing = resolve(path);
  const rest: string[] = [];
  while (!existsSync(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(basename(existing));
    existing = parent;
  }
  try {
    return join(realpathSync(existing), ...rest);
  } catch {
    return resolve(path);
  }
}
