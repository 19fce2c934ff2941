import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { ENV_DOCS } from '../../core/config.js';

export function envTable(): string {
  const rows = ENV_DOCS.map((d) => `| \`${d.name}\` | ${d.default === '(unset)' ? '(unset)' : `\`${d.default}\``} | ${d.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print every environment variable the farm reads, with defaults')
    .addHelpText('after', examples('sdf-farm config'))
    .action(() => {
      process.stdout.write(envTable() + '\n');
    });
}
