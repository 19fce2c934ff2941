import type { ErrorObject } from 'ajv';

/** `/documents/docsPerIdea` → `documents.docsPerIdea`; array indexes as `[2]`. */
function toPath(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty));
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty));
  let path = '';
  for (const part of parts) path += /^\d+$/.test(part) ? `[${part}]` : path ? `.${part}` : part;
  return path || '(spec)';
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'is not a known field';
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'enum') return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return error.message ?? 'is invalid';
}

/** ajv's errors of a spec (run or eval) as `path: message`, each once: what a 400's `problems` lists. */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined): string[] {
  return [...new Set((errors ?? []).map((error) => `${toPath(error)}: ${describe(error)}`))];
}
