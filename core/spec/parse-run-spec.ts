import { parse as parseYaml } from 'yaml';
import { SpecError } from '../errors.js';
import { validateRunSpec } from './validate-run-spec.js';
import type { RunSpec } from './run-spec-schema.js';

/** Parses a YAML or JSON document (JSON is YAML); a syntax error is a SpecError like any other problem. */
export function parseSpecDocument(text: string, source = 'spec'): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new SpecError([`(${source}): not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
}

/** Parses a YAML or JSON document and validates it as a run spec. */
export function parseRunSpec(text: string, source = 'spec'): RunSpec {
  return validateRunSpec(parseSpecDocument(text, source));
}
