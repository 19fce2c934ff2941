import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { runTool } from '../helpers/tools.js';
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
