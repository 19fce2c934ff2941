import { parse as parseYaml } from 'yaml';
import { SpecError } from '../errors.js';
import { validateRunSpec } from './validate-run-spec.js';
import type { RunSpec } from './run-spec-schema.js';

/** Parses a YAML or JSON document (JSON is YAML) and validates it as a run spec. */
export function parseRunSpec(text: string, source = 'spec'): RunSpec {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new SpecError([`(${source}): not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  return validateRunSpec(value);
}
