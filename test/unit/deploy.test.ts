import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CORE_STAGE_NAMES, PUSH_STAGE_NAMES, STAGE_NAMES, STAGES, type TargetKind } from '../../src/core/stages.js';
import { CHANGE_CLASSES, SLA_SECONDS } from '../../src/sinks/change-class.js';
import { loadConfig } from '../../src/config/load.js';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';

interface Container {
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  resources?: string[];
  components?: string[];
  labels?: Array<{ pairs: Record<string, string> }>;
  spec?: {
    replicas?: number;
    strategy?: { type?: string };
    pollingInterval?: number;
    scaleTargetRef?: { name: string };
    maxReplicaCount?: number;
    triggers?: Array<{ type: string; metadata: Record<string, string> }>;
    template?: {
      metadata?: { annotations?: Record<string, string> };
      spec: { containers: Container[]; terminationGracePeriodSeconds?: number };
    };
  };
}

const KUBE = new URL('../../deploy/kubernetes/', import.meta.url);
const EXAMPLE_OVERLAY = new URL('../../deploy/overlays/example/', import.meta.url);

/** Validates a manifest against its kind's published JSON schema (throws naming the field). */
type Check = (manifest: unknown) => void;
const check =
  <T extends { validate(): void }>(Model: new (data: never) => T): Check =>
  (manifest) =>
    new Model(manifest as never).validate();
const MODELS: Record<string, Check> = {
  'apps/v1 Deployment': check(Deployment),
  'batch/v1 Job': check(Job),
  'batch/v1 CronJob': check(CronJob),
  'autoscaling/v2 HorizontalPodAutoscaler': check(HorizontalPodAutoscaler),
  'policy/v1 PodDisruptionBudget': check(PodDisruptionBudget),
  'v1 ConfigMap': check(ConfigMap),
  'v1 Secret': check(Secret),
  'v1 Service': check(Service),
  'keda.sh/v1alpha1 ScaledObject': check(ScaledObject),
  'monitoring.coreos.com/v1 PrometheusRule': check(PrometheusRule),
};
const yamlFiles = (dir: URL) => readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

function documentsOf(file: string, dir: URL = KUBE): Manifest[] {
  const docs = parseAllDocuments(readFileSync(new URL(file, dir), 'utf8'));
  for (const doc of docs) expect(doc.errors, `${file} parses`).toEqual([]);
  return docs.map((doc) => doc.toJS() as Manifest).filter((m) => m !== null);
}

/** The manifests of one directory, by file. */
const load = (dir: URL) => new Map(yamlFiles(dir).map((file) => [file, documentsOf(file, dir)]));

// The base: deploy/kubernetes/*.yaml.
const files = yamlFiles(KUBE);
const byFile = load(KUBE);
const base = [...byFile.values()].flat();

/**
 * The opt-in kustomize Components, one per push target kind (deploy/kubernetes/components/<dir>).
 * A Record over TargetKind: a new kind does not compile until it has a component.
 */
const COMPONENT_OF_TARGET: Record<TargetKind, string> = { shopware: 'shopware', woocommerce: 'woocommerce', webhooks: 'webhook-forwarder' };
const COMPONENTS = new URL('components/', KUBE);
/** The push components; components/hpa/ holds the autoscaler variants for clusters without KEDA. */
const componentDirs = readdirSync(COMPONENTS).filter((d) => statSync(new URL(d, COMPONENTS)).isDirectory() && d !== 'hpa');
const HPA = new URL('hpa/', COMPONENTS);
const hpaDirs = readdirSync(HPA).filter((d) => statSync(new URL(d, HPA)).isDirectory());
const byHpaComponent = new Map(hpaDirs.map((dir) => [dir, load(new URL(`${dir}/`, HPA))]));
const byComponent = new Map(componentDirs.map((dir) => [dir, load(new URL(`${dir}/`, COMPONENTS))]));
const ofComponent = (dir: string) => [...(byComponent.get(dir)?.values() ?? [])].flat();

const all = [...base, ...componentDirs.flatMap(ofComponent)];
const ofKind = (kind: string, manifests: Manifest[] = all) => manifests.filter((m) => m.kind === kind);
const configMap = ofKind('ConfigMap').find((m) => m.metadata.name === 'ragsync-config')!;
const httpPort = Number(configMap.data!.RAGSYNC_HTTP_PORT);

/** `run` commands that are not pipeline stages: they own no consumer group and are not autoscaled. */
const NOT_STAGES = ['erp-bridge', 'pull-woocommerce-orders'];

/** The stage a Deployment runs (`run <stage>`), or undefined for a non-stage Deployment (the ERP bridge, the order poller too). */
function stageOf(deployment: Manifest): string | undefined {
  const args = deployment.spec?.template?.spec.containers[0]?.args ?? [];
  return args[0] === 'run' && !NOT_STAGES.includes(args[1]!) ? args[1] : undefined;
}

function portNumber(container: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

const stageDeploymentsOf = (manifests: Manifest[]) => ofKind('Deployment', manifests).filter((d) => stageOf(d) !== undefined);
const stageDeployments = stageDeploymentsOf(all);
const componentOfDeployment = (deployment: Manifest) => componentDirs.find((dir) => ofComponent(dir).includes(deployment));
const budgetComponents = (manifests: Manifest[]) =>
  (ofKind('PodDisruptionBudget', manifests) as Array<Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }>).map(
    (b) => b.spec.selector.matchLabels['app.kubernetes.io/component'],
  );
const validate = (file: string, manifests: Manifest[]) => {
  for (const manifest of manifests) {
    if (manifest.kind === 'Kustomization' || manifest.kind === 'Component') continue;
    const model = MODELS[`${manifest.apiVersion} ${manifest.kind}`];
    expect(model, `${file}: a schema for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
    expect(() => model!(manifest), `${file}: ${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
  }
};

describe('the Kubernetes manifests', () => {
  it('parse, and every document names its kind and apiVersion', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const manifest of all) {
      expect(manifest.apiVersion).toBeTruthy();
      expect(manifest.kind).toBeTruthy();
    }
  });

  it('list every manifest in kustomization.yaml except the Secret example', () => {
    const kustomization = byFile.get('kustomization.yaml')![0]!;
    const expected = files.filter((f) => f !== 'kustomization.yaml' && !f.includes('.example.'));
    expect([...kustomization.resources!].sort()).toEqual(expected.sort());
  });

  it('run one Deployment per stage in all, each with an existing stage name', () => {
    for (const deployment of stageDeployments) {
      expect(STAGE_NAMES as readonly string[]).toContain(stageOf(deployment));
      expect(deployment.spec!.template!.spec.containers[0]!.args).toHaveLength(2);
    }
    expect(stageDeployments.map(stageOf).sort()).toEqual([...STAGE_NAMES].sort());
  });

  it('run exactly the core stages in the base: the push stages are opt-in', () => {
    expect(stageDeploymentsOf(base).map(stageOf).sort()).toEqual([...CORE_STAGE_NAMES].sort());
    const kustomization = byFile.get('kustomization.yaml')![0]!;
    expect(kustomization.components).toBeUndefined();
  });

  it('validate against the Kubernetes, KEDA and Prometheus Operator schemas', () => {
    for (const [file, manifests] of byFile) validate(file, manifests);
  });

  it('fail that validation for a manifest with a wrong field type', () => {
    const deployment = structuredClone(stageDeployments[0]!);
    deployment.spec!.template!.spec.containers[0]!.ports = [{ name: 'http', containerPort: 'http' as unknown as number }];
    expect(() => MODELS['apps/v1 Deployment']!(deployment)).toThrow(/containerPort must be integer/);
  });

  it('limit voluntary disruptions of every Deployment, each budget next to its Deployment', () => {
    const componentLabel = (d: Manifest) => (d as unknown as { metadata: { labels: Record<string, string> } }).metadata.labels['app.kubernetes.io/component'];
    expect(budgetComponents(all).sort()).toEqual(ofKind('Deployment').map(componentLabel).sort());
    expect(budgetComponents(all)).toEqual(expect.arrayContaining([...STAGE_NAMES, 'webhook', 'erp-bridge', 'dashboard', 'pull-woocommerce-orders']));
    expect(budgetComponents(base).sort()).toEqual(ofKind('Deployment', base).map(componentLabel).sort());
    for (const dir of componentDirs) expect(budgetComponents(ofComponent(dir)).sort(), dir).toEqual(ofKind('Deployment', ofComponent(dir)).map(componentLabel).sort());
  });

  it('alert on what docs/deploy.md says to alert on', () => {
    const rules = (ofKind('PrometheusRule')[0] as unknown as { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } }).spec.groups.flatMap((g) => g.rules);
    const metrics = rules.map((r) => r.expr).join('\n');
    for (const metric of [
      'ragsync_stage_paused',
      'ragsync_circuit_state',
      'ragsync_dlq_records_total',
      'ragsync_consumer_lag',
      'ragsync_source_to_indexed_seconds_bucket',
      'ragsync_sla_breaches_total',
      'ragsync_source_to_target_seconds_bucket',
      'ragsync_records_total{outcome="stale"}',
      'ragsync_records_total{outcome="retried"}',
      'kube_pod_status_ready',
      'kube_job_status_failed{job_name=~"ragsync-reconcile-.*"}',
    ])
      expect(metrics).toContain(metric);
  });

  describe('the push target alerts', () => {
    const rules = (ofKind('PrometheusRule')[0] as unknown as { spec: { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> } }).spec.groups.flatMap((g) => g.rules);
    const ruleOn = (metric: string) => rules.find((r) => r.expr.includes(metric));

    it('fire when SLA breaches increase, per class and target', () => {
      const expr = ruleOn('ragsync_sla_breaches_total')!.expr;
      expect(expr).toMatch(/sum by \(class, target\) \(increase\(ragsync_sla_breaches_total\[\w+\]\)\) > 0/);
    });

    it('fire when the p95 from the source to a target is above the time of its class', () => {
      const expr = ruleOn('ragsync_source_to_target_seconds_bucket')!.expr;
      // One clause per class selector: `histogram_quantile(0.95, ... {class="price"} ...) > 120`.
      const clauses = expr
        .split(/\bor\b/)
        .map((part) => /histogram_quantile\(0\.95, sum by \(class, target, le\) \(rate\(ragsync_source_to_target_seconds_bucket\{class(=~?)"([^"]+)"\}\[\w+\]\)\)\) > (\d+)/.exec(part))
        .map((m) => {
          expect(m, 'every clause is a p95 per class and target over a threshold').not.toBeNull();
          const [, op, selector, threshold] = m!;
          const matches = (c: string) => (op === '=' ? c === selector : new RegExp(`^(?:${selector})$`).test(c));
          return { matches, threshold: Number(threshold) };
        });
      for (const changeClass of CHANGE_CLASSES) {
        const clause = clauses.filter((c) => c.matches(changeClass));
        expect(clause, `one clause for ${changeClass}`).toHaveLength(1);
        expect(clause[0]!.threshold, changeClass).toBe(SLA_SECONDS[changeClass]);
      }
      expect(SLA_SECONDS).toMatchObject({ price: 120, stock: 300, product: 900 });
    });
  });

  describe('the reconcile CronJob', () => {
    const cron = ofKind('CronJob')[0] as unknown as {
      spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { backoffLimit: number; template: { spec: { restartPolicy: string; securityContext: { runAsNonRoot: boolean }; containers: Container[] } } } } };
    };

    it('compares the store with the change topics and repairs the drift, one run at a time', () => {
      expect(cron).toBeDefined();
      expect(cron.spec.schedule.split(' ')).toHaveLength(5);
      expect(cron.spec.concurrencyPolicy).toBe('Forbid');
      const pod = cron.spec.jobTemplate.spec.template.spec;
      expect(pod.containers[0]!.args).toEqual(['reconcile', 'changes', '--repair']);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.restartPolicy).toBe('Never');
    });

    it('is not run again at once when it exits 1 for drift found', () => {
      expect(cron.spec.jobTemplate.spec.backoffLimit).toBe(0);
    });

    it('reads the settings from the ConfigMap and the Secret', () => {
      const envFrom = cron.spec.jobTemplate.spec.template.spec.containers[0]!.envFrom!;
      expect(envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(['ragsync-config', 'ragsync-secrets']);
    });
  });

  it('serve the dashboard on all interfaces behind a Service, with its token from the Secret', () => {
    const dashboard = ofKind('Deployment').find((d) => d.metadata.name === 'ragsync-dashboard')!;
    const container = dashboard.spec!.template!.spec.containers[0]!;
    expect(container.args!.slice(0, 3)).toEqual(['dashboard', '--host', '0.0.0.0']);
    const port = Number(container.args![container.args!.indexOf('--port') + 1]);
    expect(portNumber(container, container.readinessProbe!.tcpSocket!.port)).toBe(port);
    const service = ofKind('Service').find((s) => s.metadata.name === 'ragsync-dashboard') as unknown as { spec: { ports: Array<{ port: number; targetPort: string }> } };
    expect(portNumber(container, service.spec.ports[0]!.targetPort)).toBe(port);
    const secret = byFile.get('ragsync-secrets.example.yaml')![0]!;
    expect(secret.stringData).toHaveProperty('RAGSYNC_DASHBOARD_TOKEN');
    expect(container.envFrom!.map((e) => e.secretRef?.name)).toContain('ragsync-secrets');
  });

  it('run the topic setup as a Job with `topics apply`', () => {
    const job = ofKind('Job')[0]!;
    expect(job.spec!.template!.spec.containers[0]!.args).toEqual(['topics', 'apply']);
  });

  it('serve the webhook on all interfaces behind a Service on its port', () => {
    const webhook = ofKind('Deployment').find((d) => d.metadata.name === 'ragsync-webhook')!;
    const container = webhook.spec!.template!.spec.containers[0]!;
    expect(container.args).toEqual(['webhook', 'serve', '--host', '0.0.0.0', '--port', '8787']);
    expect(portNumber(container, container.readinessProbe!.tcpSocket!.port)).toBe(8787);
    const service = ofKind('Service').find((s) => s.metadata.name === 'ragsync-webhook')!;
    expect(JSON.stringify(service.spec)).toContain('"targetPort":"webhook"');
  });

  it('read the settings from the ConfigMap and the ragsync-secrets Secret in every container', () => {
    for (const deployment of [...ofKind('Deployment'), ...ofKind('Job')]) {
      const envFrom = deployment.spec!.template!.spec.containers[0]!.envFrom!;
      expect(envFrom.map((e) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual(['ragsync-config', 'ragsync-secrets']);
    }
  });

  it('keep the ConfigMap to settings the config loader accepts', () => {
    const config = loadConfig({ env: configMap.data! });
    expect(config.http.port).toBe(httpPort);
    expect(config.topics.prefix).toBe('ragsync.');
  });

  describe.each(STAGE_NAMES)('the %s Deployment', (stage) => {
    const deployment = stageDeployments.find((d) => stageOf(d) === stage)!;
    const pod = deployment?.spec?.template ?? { spec: { containers: [] } };
    const container = pod.spec.containers[0]!;

    it('exists', () => {
      expect(deployment).toBeDefined();
    });

    it('is ready on /readyz and alive on /healthz at the configured port', () => {
      expect(container.readinessProbe!.httpGet!.path).toBe('/readyz');
      expect(container.livenessProbe!.httpGet!.path).toBe('/healthz');
      expect(portNumber(container, container.readinessProbe!.httpGet!.port)).toBe(httpPort);
      expect(portNumber(container, container.livenessProbe!.httpGet!.port)).toBe(httpPort);
    });

    it('is scraped for /metrics on the configured port', () => {
      expect(pod.metadata!.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(httpPort), 'prometheus.io/path': '/metrics' });
    });

    it('gets longer to stop than the session timeout within which it finishes its work', () => {
      const sessionTimeoutSeconds = loadConfig({ env: configMap.data! }).runner.sessionTimeoutMs / 1000;
      expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(sessionTimeoutSeconds);
    });

    it('requests CPU and memory, with a memory limit', () => {
      expect(container.resources!.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources!.limits!.memory).toBeTruthy();
    });

    it('leaves the replica count to its autoscaler', () => {
      expect(deployment.spec!.replicas).toBeUndefined();
    });
  });

  it('give embed the most memory, for the ONNX model', () => {
    const mebibytes = (q: string) => Number.parseInt(q, 10) * (q.endsWith('Gi') ? 1024 : 1);
    const requests = Object.fromEntries(stageDeployments.map((d) => [stageOf(d), mebibytes(d.spec!.template!.spec.containers[0]!.resources!.requests!.memory!)]));
    for (const stage of STAGE_NAMES) if (stage !== 'embed') expect(requests.embed).toBeGreaterThan(requests[stage]!);
  });

  describe('the KEDA ScaledObjects', () => {
    const scaled = ofKind('ScaledObject');

    it('scale every stage Deployment, each from the same component as its Deployment', () => {
      expect(scaled.map((s) => s.spec!.scaleTargetRef!.name).sort()).toEqual(stageDeployments.map((d) => d.metadata.name).sort());
      for (const [scope, manifests] of [['base', base], ...componentDirs.map((dir) => [dir, ofComponent(dir)] as const)] as const) {
        const targets = ofKind('ScaledObject', manifests).map((s) => s.spec!.scaleTargetRef!.name);
        expect(targets.sort(), scope).toEqual(stageDeploymentsOf(manifests).map((d) => d.metadata.name).sort());
      }
    });

    it.each(['shopware', 'woocommerce'])('scale the %s price and stock lanes more eagerly than its product lane', (kind) => {
      const lane = (stage: string) => scaled.find((s) => s.spec!.scaleTargetRef!.name === `ragsync-${stage}`)!;
      const threshold = (stage: string) => Number(lane(stage).spec!.triggers![0]!.metadata.lagThreshold);
      // Prices must reach the shop within 2 minutes, stock within 5, product details within 15.
      expect(threshold(`push-${kind}-price`)).toBeLessThan(threshold(`push-${kind}`));
      expect(threshold(`push-${kind}-stock`)).toBeLessThan(threshold(`push-${kind}`));
      expect(threshold(`push-${kind}-price`)).toBeLessThanOrEqual(threshold(`push-${kind}-stock`));
      expect(lane(`push-${kind}-price`).spec!.pollingInterval).toBeLessThanOrEqual(lane(`push-${kind}`).spec!.pollingInterval!);
      expect(lane(`push-${kind}-stock`).spec!.pollingInterval).toBeLessThanOrEqual(lane(`push-${kind}`).spec!.pollingInterval!);
    });

    it('watch the lag of the consumer group of the stage their Deployment runs', () => {
      for (const object of scaled) {
        const target = stageDeployments.find((d) => d.metadata.name === object.spec!.scaleTargetRef!.name)!;
        const trigger = object.spec!.triggers![0]!;
        expect(trigger.type).toBe('kafka');
        expect(trigger.metadata.consumerGroup).toBe(`${configMap.data!.RAGSYNC_TOPIC_PREFIX}${stageOf(target)}`);
        expect(trigger.metadata.bootstrapServers).toBe(configMap.data!.KAFKA_BROKERS);
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
        if (trigger.metadata.topic !== undefined) expect(trigger.metadata.topic.startsWith(configMap.data!.RAGSYNC_TOPIC_PREFIX!)).toBe(true);
      }
    });

    it('stop at the partition count, where more replicas would idle', () => {
      for (const object of scaled) expect(object.spec!.maxReplicaCount).toBe(Number(configMap.data!.RAGSYNC_PARTITIONS));
    });
  });

  describe('the push components', () => {
    it('are one per target kind, each a kustomize Component listing exactly its files', () => {
      expect([...componentDirs].sort()).toEqual(Object.values(COMPONENT_OF_TARGET).sort());
      for (const dir of componentDirs) {
        const component = byComponent.get(dir)!;
        const kustomization = component.get('kustomization.yaml')?.[0];
        expect(kustomization, `${dir}/kustomization.yaml`).toBeDefined();
        expect(kustomization!.apiVersion).toBe('kustomize.config.k8s.io/v1alpha1');
        expect(kustomization!.kind).toBe('Component');
        const listed = [...kustomization!.resources!].sort();
        expect(listed, dir).toEqual([...component.keys()].filter((f) => f !== 'kustomization.yaml').sort());
        // The same common label the base puts on its resources.
        expect(kustomization!.labels).toEqual(byFile.get('kustomization.yaml')![0]!.labels);
      }
    });

    it('validate against the Kubernetes and KEDA schemas like the base files', () => {
      for (const dir of componentDirs) for (const [file, manifests] of byComponent.get(dir)!) validate(`${dir}/${file}`, manifests);
    });

    it('run every push stage exactly once, in the component of its target kind', () => {
      const pushDeployments = componentDirs.flatMap((dir) => stageDeploymentsOf(ofComponent(dir)));
      expect(pushDeployments.map(stageOf).sort()).toEqual([...PUSH_STAGE_NAMES].sort());
      for (const stage of PUSH_STAGE_NAMES) {
        const deployment = pushDeployments.find((d) => stageOf(d) === stage)!;
        expect(componentOfDeployment(deployment), stage).toBe(COMPONENT_OF_TARGET[STAGES[stage].target!]);
        expect(deployment.metadata.name).toBe(`ragsync-${stage}`);
      }
    });

    it('run the WooCommerce order poller as one replica, recreated rather than rolled, and never autoscaled', () => {
      const pollers = ofKind('Deployment').filter((d) => d.spec!.template!.spec.containers[0]!.args?.[1] === 'pull-woocommerce-orders');
      expect(pollers).toHaveLength(1);
      const poller = pollers[0]!;
      expect(componentOfDeployment(poller)).toBe(COMPONENT_OF_TARGET.woocommerce);
      expect(poller.metadata.name).toBe('ragsync-pull-woocommerce-orders');
      expect(poller.spec!.template!.spec.containers[0]!.args).toEqual(['run', 'pull-woocommerce-orders']);
      expect(poller.spec!.replicas).toBe(1);
      expect(poller.spec!.strategy?.type).toBe('Recreate');
      expect(ofKind('ScaledObject').map((s) => s.spec!.scaleTargetRef!.name)).not.toContain(poller.metadata.name);
    });

    it('are all enabled by the example overlay, on top of the base', () => {
      const overlay = documentsOf('kustomization.yaml', EXAMPLE_OVERLAY)[0]!;
      expect(overlay.kind).toBe('Kustomization');
      expect(overlay.resources!.map((r) => new URL(`${r}/`, EXAMPLE_OVERLAY).href)).toEqual([KUBE.href]);
      expect(overlay.components!.map((c) => new URL(`${c}/`, EXAMPLE_OVERLAY).href).sort()).toEqual(componentDirs.map((dir) => new URL(`${dir}/`, COMPONENTS).href).sort());
      for (const c of overlay.components!) expect(existsSync(new URL(`${c}/kustomization.yaml`, EXAMPLE_OVERLAY)), c).toBe(true);
    });
  });

  describe('the HPA components, for clusters without KEDA', () => {
    const scopeOf = (dir: string) => (dir === 'core' ? base : ofComponent(dir));
    type Hpa = { metadata: { name: string }; spec: { scaleTargetRef: { name: string }; minReplicas: number; maxReplicas: number; metrics: Array<{ external: { metric: { name: string; selector: { matchLabels: Record<string, string> } }; target: { type: string; averageValue: string } } }> } };

    it('are one per scope: the core stages and each push component', () => {
      expect([...hpaDirs].sort()).toEqual(['core', ...componentDirs].sort());
    });

    it.each(hpaDirs)('%s: replace each ScaledObject of its scope with an HPA on the same group lag per replica and the same bounds', (dir) => {
      const files = byHpaComponent.get(dir)!;
      const kustomization = files.get('kustomization.yaml')![0]! as Manifest & { patches: Array<{ patch: string }> };
      expect(kustomization.kind).toBe('Component');
      const scaled = ofKind('ScaledObject', scopeOf(dir));
      const deleted = kustomization.patches.map((p) => parseAllDocuments(p.patch)[0]!.toJS() as { $patch: string; kind: string; metadata: { name: string } });
      expect(deleted.every((d) => d.$patch === 'delete' && d.kind === 'ScaledObject')).toBe(true);
      expect(deleted.map((d) => d.metadata.name).sort()).toEqual(scaled.map((s) => s.metadata.name).sort());
      const hpas = [...files.values()].flat().filter((m) => m.kind === 'HorizontalPodAutoscaler') as unknown as Hpa[];
      expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(scaled.map((s) => s.spec!.scaleTargetRef!.name).sort());
      for (const hpa of hpas) {
        const object = scaled.find((s) => s.spec!.scaleTargetRef!.name === hpa.spec.scaleTargetRef.name)! as Manifest & { spec: { minReplicaCount: number } };
        const trigger = object.spec!.triggers![0]!.metadata;
        const metric = hpa.spec.metrics[0]!.external;
        expect(metric.metric.name).toBe('ragsync_consumer_lag');
        expect(metric.metric.selector.matchLabels).toEqual({ group: trigger.consumerGroup });
        expect(metric.target).toEqual({ type: 'AverageValue', averageValue: trigger.lagThreshold });
        expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([object.spec.minReplicaCount, object.spec!.maxReplicaCount]);
      }
    });

    it('are all used by the without-keda overlay, each after the component it changes', () => {
      const overlay = documentsOf('kustomization.yaml', new URL('../../deploy/overlays/without-keda/', import.meta.url))[0]!;
      const listed = overlay.components!.map((c) => c.replace('../../kubernetes/components/', ''));
      expect(listed.filter((c) => c.startsWith('hpa/')).sort()).toEqual(hpaDirs.map((d) => `hpa/${d}`).sort());
      for (const dir of componentDirs) expect(listed.indexOf(dir), dir).toBeLessThan(listed.indexOf(`hpa/${dir}`));
      for (const dir of hpaDirs) for (const [file, manifests] of byHpaComponent.get(dir)!) validate(`hpa/${dir}/${file}`, manifests);
    });
  });

  it('hold only placeholders in the Secret example', () => {
    const secret = byFile.get('ragsync-secrets.example.yaml')![0]!;
    expect(secret.kind).toBe('Secret');
    const values = Object.values(secret.stringData!);
    expect(values.length).toBeGreaterThan(0);
    for (const value of values) {
      expect(value).toContain('CHANGE_ME');
      // Nothing that looks like a key or token: no long run of letters and digits.
      expect(value).not.toMatch(/[A-Za-z0-9+/_-]{24,}/);
    }
    expect(JSON.stringify(secret)).not.toMatch(/"data"/);
  });
});

describe('the image config file', () => {
  it('makes worker endpoints and the webhook listen on every interface', () => {
    const config = loadConfig({ env: { RAGSYNC_CONFIG: new URL('../../deploy/container.yaml', import.meta.url).pathname } });
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.webhook.host).toBe('0.0.0.0');
  });

  it('is built by a Dockerfile with a build stage and a runtime stage that runs as a non-root user', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    expect(stages[0]).toMatch(/^\S+ AS build\n/);
    const runtime = stages[1]!;
    // Only compiled code and production dependencies reach the runtime stage.
    expect(runtime).not.toMatch(/npm (ci|install)/);
    expect(runtime).toContain('COPY --from=build /app/node_modules ./node_modules');
    const users = [...runtime.matchAll(/^USER (\S+)/gm)].map((m) => m[1]!);
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    // The uid the Kubernetes pods ask for.
    for (const deployment of ofKind('Deployment')) expect((deployment.spec!.template!.spec as { securityContext?: { runAsUser?: number } }).securityContext?.runAsUser).toBe(Number(user.split(':')[0]));
    // Nothing after USER switches back to root.
    expect(runtime.slice(runtime.lastIndexOf('USER '))).not.toMatch(/^RUN /m);
  });

  it('starts processes with the memory settings the benchmarks and the fault suite measure the worker with', () => {
    const runtime = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').split(/^FROM /m).at(-1)!;
    const env = (name: string) => new RegExp(`^ENV (?:.* )?${name}=(\\S+)`, 'm').exec(runtime)?.[1];
    expect(env('MALLOC_ARENA_MAX')).toBe('2');
    expect(env('MALLOC_MMAP_THRESHOLD_')).toMatch(/^\d+$/);
    expect(env('NODE_OPTIONS')).toMatch(/^--max-semi-space-size=\d+$/);
    const bench = readFileSync(new URL('../../bench/run.ts', import.meta.url), 'utf8');
    expect(bench).toContain(`process.env.MALLOC_ARENA_MAX ??= '${env('MALLOC_ARENA_MAX')}'`);
    expect(bench).toContain(`process.env.MALLOC_MMAP_THRESHOLD_ ??= '${env('MALLOC_MMAP_THRESHOLD_')}'`);
    expect(bench).toContain(`process.env.NODE_OPTIONS ??= '${env('NODE_OPTIONS')}'`);
    const memoryScenario = readFileSync(new URL('../faults/scenarios/throttled.ts', import.meta.url), 'utf8');
    expect(memoryScenario).toContain(`MALLOC_ARENA_MAX: '${env('MALLOC_ARENA_MAX')}'`);
    expect(memoryScenario).toContain(`MALLOC_MMAP_THRESHOLD_: '${env('MALLOC_MMAP_THRESHOLD_')}'`);
    expect(memoryScenario).toContain(`NODE_OPTIONS: '${env('NODE_OPTIONS')}'`);
  });

  it('is the one the Dockerfile installs, next to the Avro schemas where the built code reads them', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain('COPY deploy/container.yaml ./container.yaml');
    expect(dockerfile).toMatch(/RAGSYNC_CONFIG=\/app\/container\.yaml/);
    // The built code reads the .avsc files from dist/schemas/avro: the build script puts them there.
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.build).toMatch(/cpSync\('src\/schemas\/avro', 'dist\/schemas\/avro'/);
  });
});
