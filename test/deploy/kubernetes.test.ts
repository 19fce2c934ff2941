import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { runTool } from '../helpers/tools.js';
import { parseTokenFile } from '../../core/auth/token-file.js';
import { REPO_ROOT } from '../helpers/farm.js';

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, any>; data?: Record<string, string> };

const MODELS: Record<string, new (value: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** kustomize (through kubectl) composes the overlay; every object must then pass its schema. */
function build(overlay: string): Manifest[] {
  const out = runTool('kubectl', ['kustomize', `deploy/k8s/${overlay}`], { cwd: REPO_ROOT });
  if (out.status !== 0) throw new Error(`kubectl kustomize ${overlay}: ${out.stderr}`);
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest);
}

function validateAll(t: Test, manifests: Manifest[]): void {
  for (const m of manifests) {
    const Model = MODELS[`${m.apiVersion}/${m.kind}`];
    t.ok(Model, `${m.kind} ${m.metadata.name} has a schema to validate against`);
    if (!Model) continue;
    t.doesNotThrow(() => new Model(m).validate(), `${m.kind} ${m.metadata.name} is valid`);
  }
}

const find = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name);

t.test('the base validates against the Kubernetes schemas', async (t) => {
  const base = build('base');
  validateAll(t, base);
  const worker = find(base, 'Deployment', 'sdf-worker')!;
  const pod = worker.spec!.template.spec;
  t.ok(pod.terminationGracePeriodSeconds > 600, 'grace period above the longest call');
  t.ok(pod.containers[0].readinessProbe && pod.containers[0].livenessProbe, 'worker has probes');
  t.ok(pod.containers[0].resources.requests, 'worker has resources');
  t.ok(find(base, 'PodDisruptionBudget', 'sdf-worker'));
  t.ok(find(base, 'Secret', 'sdf-farm-gemini'));
  t.ok(find(base, 'ServiceMonitor', 'sdf-farm'));
  t.ok(base.every((m) => m.kind === 'Namespace' || m.metadata.namespace === 'sdf-farm'), 'everything lands in the namespace');
});

t.test('the API binds 0.0.0.0 with its tokens mounted from a Secret as SDF_API_TOKENS_FILE', async (t) => {
  const base = build('base');
  const secret = find(base, 'Secret', 'sdf-farm-api-tokens') as Manifest & { stringData?: Record<string, string> };
  t.ok(secret, 'a Secret holds the API tokens');
  const api = find(base, 'Deployment', 'sdf-api')!;
  const pod = api.spec!.template.spec;
  const container = pod.containers[0];
  const config = find(base, 'ConfigMap', 'sdf-farm-config')!.data!;
  t.equal(config.HOST, '0.0.0.0', 'serve listens beyond loopback, which it refuses without a token');
  t.same(container.envFrom.map((e: { configMapRef?: { name: string } }) => e.configMapRef?.name).filter(Boolean), ['sdf-farm-config']);

  const volume = pod.volumes.find((v: { secret?: { secretName: string } }) => v.secret?.secretName === 'sdf-farm-api-tokens');
  t.ok(volume, 'the Secret is a volume of the API pod');
  const mount = container.volumeMounts.find((m: { name: string }) => m.name === volume.name);
  t.ok(mount, 'mounted into the API container');
  t.equal(mount.readOnly, true);
  t.notOk(mount.subPath, 'the directory is mounted, not a subPath: the kubelet updates it when the Secret changes');
  const file = container.env.find((e: { name: string }) => e.name === 'SDF_API_TOKENS_FILE')?.value as string;
  t.ok(file?.startsWith(`${mount.mountPath}/`), 'SDF_API_TOKENS_FILE is a file in the mount');
  const key = file.slice(mount.mountPath.length + 1);
  t.ok(secret.stringData?.[key] ?? secret.data?.[key], `the Secret has the key ${key}`);
  t.match(parse(secret.stringData![key]!), [{ role: 'admin', token: String }], 'in the token file format');
  t.throws(() => parseTokenFile(secret.stringData![key]!, key), /at least 16 characters/, 'its placeholder is refused: serve does not start until it is replaced');
  for (const name of ['sdf-worker']) {
    const other = find(base, 'Deployment', name)!.spec!.template.spec;
    t.notOk(JSON.stringify(other).includes('sdf-farm-api-tokens'), `${name} does not get the API tokens`);
  }
});

t.test('a NetworkPolicy lets only the workers, serve and the monitoring namespace reach Redis', async (t) => {
  const base = build('base');
  const redisLabels = find(base, 'StatefulSet', 'sdf-redis')!.spec!.template.metadata.labels;
  const policies = base.filter((m) => m.kind === 'NetworkPolicy');
  const policy = policies.find((p) => Object.entries(p.spec!.podSelector.matchLabels ?? {}).every(([k, v]) => redisLabels[k] === v))!;
  t.ok(policy, 'a NetworkPolicy selects the Redis pods');
  t.same(policy.spec!.podSelector.matchLabels, { 'app.kubernetes.io/name': 'sdf-redis' });
  t.same(policy.spec!.policyTypes, ['Ingress'], 'it restricts ingress');
  t.equal(policy.spec!.ingress.length, 1, 'one rule');
  const [rule] = policy.spec!.ingress;
  const labelsOf = (name: string) => find(base, 'Deployment', name)!.spec!.template.metadata.labels;
  const peers = rule.from as { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> } }[];
  const admits = (labels: Record<string, string>) => peers.some((p) => p.podSelector && !p.namespaceSelector && Object.entries(p.podSelector.matchLabels).every(([k, v]) => labels[k] === v));
  t.ok(admits(labelsOf('sdf-worker')), 'the workers');
  t.ok(admits(labelsOf('sdf-api')), 'serve (API + producer)');
  t.notOk(admits({ 'app.kubernetes.io/name': 'something-else', 'app.kubernetes.io/part-of': 'sdf-farm' }), 'no other pod of the namespace');
  const namespaces = peers.filter((p) => p.namespaceSelector);
  t.same(namespaces, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], 'and the monitoring namespace only');
  t.equal(peers.length, 3, 'nothing else');
  t.notOk(peers.some((p) => Object.keys(p).length === 0 || (p.podSelector && Object.keys(p.podSelector.matchLabels ?? {}).length === 0)), 'no peer selects everything');
  const redisPort = find(base, 'StatefulSet', 'sdf-redis')!.spec!.template.spec.containers[0].ports[0];
  t.same(rule.ports.map((p: { port: string | number }) => p.port), [redisPort.name], 'on the Redis port only');
  t.doesNotThrow(() => new NetworkPolicy(policy as any).validate());
  t.throws(() => new NetworkPolicy({ metadata: { name: 'x' }, spec: { podSelector: {}, policyTypes: ['Sideways'] } } as any).validate(), 'the model rejects a bad policy');
});

t.test('the example overlay composes: image pinned, patches applied, KEDA scaling on backlog', async (t) => {
  const example = build('overlays/example');
  validateAll(t, example);
  t.ok(example.every((m) => m.kind === 'Namespace' || m.metadata.namespace === 'sdf-farm'), 'everything lands in the namespace, the ScaledObject too');
  const worker = find(example, 'Deployment', 'sdf-worker')!;
  t.equal(worker.spec!.template.spec.containers[0].image, 'ghcr.io/example/sdf-farm:0.1.0');
  t.equal(worker.spec!.template.spec.containers[0].resources.requests.cpu, '500m');
  const concurrency = find(example, 'ConfigMap', 'sdf-farm-config')!.data!.WORKER_CONCURRENCY;
  t.equal(concurrency, '64');
  const scaled = find(example, 'ScaledObject', 'sdf-worker')!;
  t.equal(scaled.spec!.scaleTargetRef.name, 'sdf-worker');
  const trigger = scaled.spec!.triggers[0];
  t.match(trigger, { type: 'prometheus', metricType: 'AverageValue' });
  t.match(trigger.metadata.query, /sdf_queue_jobs\{/);
  t.match(trigger.metadata.query, `namespace="${scaled.metadata.namespace}"`, "the query reads the farm's own namespace");
  t.notMatch(trigger.metadata.query, /\bjob\b/, 'and no scrape job name');
  t.equal(trigger.metadata.threshold, concurrency, 'one worker per WORKER_CONCURRENCY tasks of backlog: the threshold is the concurrency');
  t.ok(scaled.spec!.maxReplicaCount > 0);
});

t.test('the HPA overlay scales on backlog through an External metric, not CPU', async (t) => {
  const hpaOverlay = build('overlays/hpa');
  validateAll(t, hpaOverlay);
  t.ok(hpaOverlay.every((m) => m.kind === 'Namespace' || m.metadata.namespace === 'sdf-farm'), 'everything lands in the namespace');
  const hpa = find(hpaOverlay, 'HorizontalPodAutoscaler', 'sdf-worker')!;
  t.equal(hpa.spec!.scaleTargetRef.name, 'sdf-worker');
  t.same(hpa.spec!.metrics.map((m: { type: string }) => m.type), ['External'], 'no CPU or memory metric');
  const external = hpa.spec!.metrics[0].external;
  t.equal(external.target.type, 'AverageValue');
  const concurrency = find(hpaOverlay, 'ConfigMap', 'sdf-farm-config')!.data!.WORKER_CONCURRENCY;
  t.equal(concurrency, '32', "the base's concurrency");
  t.equal(external.target.averageValue, concurrency, 'one worker per WORKER_CONCURRENCY tasks of backlog');
  const adapter = parse(readFileSync(join(REPO_ROOT, 'deploy/k8s/overlays/hpa/prometheus-adapter-values.yaml'), 'utf8')) as {
    rules: { external: { seriesQuery: string; name: { as: string }; metricsQuery: string; resources: { overrides: Record<string, { resource: string }> } }[] };
  };
  const rule = adapter.rules.external.find((r) => r.name.as === external.metric.name);
  t.ok(rule, `prometheus-adapter serves ${external.metric.name}`);
  t.match(rule!.seriesQuery, /^sdf_queue_jobs\{/);
  t.same(rule!.resources.overrides.namespace, { resource: 'namespace' }, "the HPA's namespace selects the farm");
  t.notMatch(rule!.metricsQuery, /\bjob\b/, 'no scrape job name');
});

t.test('a broken manifest is caught by the schema check', async (t) => {
  t.throws(() => new Deployment({ metadata: { name: 'x' }, spec: { selector: {}, template: { spec: { containers: [{ name: 'c', ports: [{ containerPort: 'http' }] }] } } } } as any).validate());
});
