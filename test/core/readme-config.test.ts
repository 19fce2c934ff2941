import { readFileSync } from 'node:fs';
import t from 'tap';
import { envTable } from '../../bin/commands/config.js';

t.test('the README configuration table is the one generated from ENV_DOCS', async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const table = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme)?.[1];
  t.equal(table, envTable(), 'regenerate with: npx sdf-farm config');
});
