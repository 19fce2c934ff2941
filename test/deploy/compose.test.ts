import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';

// Compose files use YAML merge keys (<<: *anchor), which YAML 1.2 parsers apply only when asked.
const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, { command?: string[]; image?: string; build?: unknown; profiles?: string[]; environment?: Record<string, string>; container_name?: string; ports?: string[]; volumes?: string[] }>;
  volumes: Record<string, unknown>;
};

t.test('compose names the services and volumes the farm needs', async (t) => {
  t.same(Object.keys(compose.services).sort(), ['api', 'grafana', 'prometheus', 'redis', 'sim', 'worker']);
  t.same(Object.keys(compose.volumes).sort(), ['farm-data', 'grafana-data', 'prometheus-data', 'redis-data']);
});

t.test('redis keeps data (AOF everysec) and never evicts', async (t) => {
  const command = compose.services.redis!.command!.join(' ');
  t.match(command, /--appendonly yes/);
  t.match(command, /--appendfsync everysec/);
  t.match(command, /--maxmemory-policy noeviction/);
});

t.test('workers scale: no fixed name or host port; the simulator is an offline profile', async (t) => {
  const worker = compose.services.worker!;
  t.notOk(worker.container_name);
  t.notOk(worker.ports);
  t.same(worker.command, ['worker']);
  t.equal(worker.environment?.REDIS_URL, 'redis://redis:6379');
  t.same(compose.services.sim!.profiles, ['offline']);
  t.same(compose.services.api!.command, ['serve']);
});

t.test('prometheus and grafana mount the committed config and provisioning', async (t) => {
  t.ok(compose.services.prometheus!.volumes!.some((v) => v.startsWith('./dashboards/prometheus.yml:')));
  t.ok(compose.services.prometheus!.volumes!.some((v) => v.startsWith('./dashboards/alerts.yml:')));
  t.ok(compose.services.grafana!.volumes!.some((v) => v.startsWith('./dashboards/provisioning:')));
  t.ok(compose.services.grafana!.volumes!.some((v) => v.startsWith('./dashboards/grafana:')));
});

t.test('the Dockerfile is multi-stage, installs production deps only, and runs as non-root', async (t) => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  t.equal(dockerfile.match(/^FROM /gm)?.length, 2);
  t.match(dockerfile, /npm ci --omit=dev/);
  t.match(dockerfile, /^USER node$/m);
  t.match(dockerfile, /ENTRYPOINT \["node", "dist\/bin\/sdf-farm.js"\]/);
});
