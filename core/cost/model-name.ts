/**
 * How a model name finds its price. The rule, in order:
 * 1. Case is ignored and a resource prefix is dropped: `models/gemini-2.5-flash` and
 *    `publishers/google/models/gemini-2.5-flash` are `gemini-2.5-flash`.
 * 2. A table entry with exactly that name wins (a price file can price one preview on its own).
 * 3. Otherwise one release suffix is dropped and the name looked up again: a version number
 *    (`-001`), `-latest`, or `-preview` with an optional date (`-preview`, `-preview-09-2025`,
 *    `-preview-05-20`). So `gemini-3-flash-preview` is priced as `gemini-3-flash`.
 * Nothing else is stripped and names never match by prefix: `gemini-2.5-flash-lite` is not
 * `gemini-2.5-flash`, and `gemini-2.5-flash-image`, `gemini-flash-latest` or an `-exp` model
 * have no price until the table names them (their calls are counted as unpriced, never free).
 */
const RESOURCE_PREFIX = /^(?:publishers\/[^/]+\/)?models\//;
const RELEASE_SUFFIX = /-(?:\d{3}|latest|preview(?:-\d{2}-\d{2,4})?)$/;

/** The name a model is looked up under first (rules 1 and 2). */
export function normalizeModelName(model: string): string {
  return model.trim().toLowerCase().replace(RESOURCE_PREFIX, '');
}

/** The names to try in order; the first one the table holds is the model's price. */
export function priceKeys(model: string): string[] {
  const name = normalizeModelName(model);
  const base = name.replace(RELEASE_SUFFIX, '');
  return base === name ? [name] : [name, base];
}
