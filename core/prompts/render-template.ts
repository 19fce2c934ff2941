/**
 * `{{name}}` becomes the value; `{{#name}}…{{/name}}` keeps its body only when the value is
 * non-empty. Deliberately tiny: templates are prose, not programs.
 */
export function renderTemplate(template: string, values: Record<string, unknown>): string {
  const text = (v: unknown) => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join('; ') : String(v));
  return template
    .replace(/\{\{#(\w+)\}\}([\s\S]*?)\{\{\/\1\}\}/g, (_, name: string, body: string) => (text(values[name]).length > 0 ? body : ''))
    .replace(/\{\{(\w+)\}\}/g, (_, name: string) => text(values[name]));
}
