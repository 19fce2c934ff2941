import { parseAllDocuments } from 'yaml';
import { SpecError } from '../errors.js';
import { validateRunSpec } from './validate-run-spec.js';
import type { RunSpec } from './run-spec-schema.js';

/**
 * Parses a YAML or JSON document (JSON is YAML); a syntax error is a SpecError like any other
 * problem. Stricter than `yaml.parse`: a warning (an unknown tag such as `!!js/function`, which
 * would otherwise be read as a plain string) and a second document are errors too, so what runs
 * is exactly what the author wrote. Aliases stay bounded by the library's alias-count limit.
 */
export function parseSpecDocument(text: string, source = 'spec'): unknown {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return null; // an empty stream
  if (docs.length > 1) throw new SpecError([`(${source}): holds ${docs.length} YAML documents; a spec is one`]);
  const doc = docs[0];
  if (!doc) return null;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw new SpecError([`(${source}): not valid YAML or JSON: ${problem.message.split('\n')[0]}`]);
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new SpecError([`(${source}): not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
}

/** Parses a YAML or JSON document and validates it as a run spec. */
export function parseRunSpec(text: string, source = 'spec'): RunSpec {
  return validateRunSpec(parseSpecDocument(text, source));
}
