import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDeployTools, type DeployTools } from './tools.js';

/**
 * Every kustomization of deploy/ rendered by kustomize and validated by kubeconform, strictly (an
 * unknown field is an error, a kind without a schema is an error), against the Kubernetes schemas
 * and the KEDA and Prometheus Operator CRDs (./tools.ts). The tools are built on first use; a
 * missing Go or Python fails these tests.
 */
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY = path.join(ROOT, 'deploy');
const KUBE = path.join(DEPLOY, 'kubernetes');
const COMPONENTS = path.join(KUBE, 'components');

interface Rendered {
  kind: string;
  apiVersion: string;
  metadata: { name: string };
  spec?: Record<string, unknown> & {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    scaleTargetRef?: { name: string };
    template?: { metadata?: { labels?: Record<string, string> } };
  };
}

/** Component folders (those with a kustomization of kind Component), relative to components/. */
function componentDirs(dir = COMPONENTS, prefix = ''): string[] {
  return readdirSync(dir)
    .filter((entry) => statSync(path.join(dir, entry)).isDirectory())
    .flatMap((entry) => {
      const rel = `${prefix}${entry}`;
      const inside = readdirSync(path.join(dir, entry));
      return [...(inside.includes('kustomization.yaml') ? [rel] : []), ...componentDirs(path.join(dir, entry), `${rel}/`)];
    });
}

const overlays = readdirSync(path.join(DEPLOY, 'overlays')).map((o) => path.join('deploy/overlays', o));
const components = componentDirs();
/** A component's own prerequisite: the push component whose ScaledObjects an hpa/<kind> component replaces. */
const needs = (component: string): string[] => {
  const match = /^hpa\/(.+)$/.exec(component);
  return match && match[1] !== 'core' ? [match[1]!] : [];
};

const scratch = mkdtempSync(path.join(tmpdir(), 'ragsync-kustomize-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let tools: DeployTools;
beforeAll(async () => {
  tools = await ensureDeployTools((line) => console.log(`deploy tools: ${line}`));
}, 900_000);

async function render(dir: string): Promise<{ yaml: string; objects: Rendered[] }> {
  const { stdout } = await run(tools.kustomize, ['build', dir], { maxBuffer: 64 * 1024 * 1024 });
  return { yaml: stdout, objects: parseAllDocuments(stdout).map((d) => d.toJS() as Rendered) };
}

interface Summary {
  resources: Array<{ kind: string; name: string; status: string; msg: string }>;
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

async function kubeconform(yaml: string): Promise<Summary> {
  const file = path.join(scratch, `manifests-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const args = ['-strict', '-summary', '-output', 'json', '-schema-location', path.join(tools.schemaDir, '{{ .ResourceKind }}{{ .KindSuffix }}.json'), file];
  // Exit code 1 for invalid resources: the JSON on stdout says which.
  const { stdout } = await run(tools.kubeconform, args, { maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
    if (!error.stdout) throw new Error(`kubeconform failed: ${error.stderr ?? String(error)}`);
    return { stdout: error.stdout };
  });
  return JSON.parse(stdout) as Summary;
}

describe('the validation tools', () => {
  it('refuse an unknown field, a wrong type, and a kind without a schema', async () => {
    const result = await kubeconform(
      [
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: a }\nspec:\n  selector: { matchLabels: { a: b } }\n  template:\n    metadata: { labels: { a: b } }\n    spec:\n      containers: [{ name: a, image: a, imagePullPolicyy: Always }]',
        'apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: { name: b }\nspec:\n  scaleTargetRef: { name: b }\n  maxReplicaCount: "six"\n  triggers: [{ type: kafka, metadata: { a: b } }]',
        'apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: { name: c }\nspec:\n  groups: [{ name: g, rules: [{ alert: A, expr: up, forr: 5m }] }]',
        'apiVersion: example.com/v1\nkind: Unknown\nmetadata: { name: d }',
      ].join('\n---\n'),
    );
    const byName = Object.fromEntries(result.resources.map((r) => [r.name, r]));
    expect(byName.a?.msg).toMatch(/imagePullPolicyy/);
    expect(byName.b?.msg).toMatch(/maxReplicaCount.*want integer/);
    expect(byName.c?.msg).toMatch(/forr/);
    expect(byName.d?.status).toBe('statusError');
    expect(result.summary).toMatchObject({ valid: 0, invalid: 3, errors: 1 });
  });
});

/** What kustomize renders: the base, every overlay, and the base with each component. */
const targets: Array<{ name: string; dir: () => string }> = [
  { name: 'deploy/kubernetes', dir: () => KUBE },
  ...overlays.map((o) => ({ name: o, dir: () => path.join(ROOT, o) })),
  ...components.map((c) => ({
    name: `deploy/kubernetes with components/${c}`,
    // An overlay in a scratch folder: the base with this component and what it needs.
    dir: () => {
      const at = mkdtempSync(path.join(scratch, `with-${c.replace(/\//g, '-')}-`));
      const rel = (to: string) => path.relative(at, to);
      writeFileSync(
        path.join(at, 'kustomization.yaml'),
        JSON.stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [rel(KUBE)], components: [...needs(c), c].map((x) => rel(path.join(COMPONENTS, x))) }),
      );
      return at;
    },
  })),
];

describe.each(targets)('$name', ({ dir }) => {
  let rendered: Rendered[];
  let result: Summary;
  beforeAll(async () => {
    const { yaml, objects } = await render(dir());
    rendered = objects;
    result = await kubeconform(yaml);
  }, 120_000);

  it('renders with kustomize and validates strictly, every object with a schema', () => {
    const problems = result.resources.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind} ${r.name}: ${r.msg}`);
    expect(problems).toEqual([]);
    expect(result.summary).toEqual({ valid: rendered.length, invalid: 0, errors: 0, skipped: 0 });
  });

  it('gives every Deployment one PodDisruptionBudget, and at most one autoscaler, none for a fixed replica count', () => {
    const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) => selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const deployment of rendered.filter((o) => o.kind === 'Deployment')) {
      const labels = deployment.spec!.template!.metadata!.labels!;
      const budgets = rendered.filter((o) => o.kind === 'PodDisruptionBudget' && selects(o.spec!.selector?.matchLabels, labels));
      expect(budgets.map((b) => b.metadata.name), deployment.metadata.name).toHaveLength(1);
      const scalers = rendered.filter((o) => (o.kind === 'ScaledObject' || o.kind === 'HorizontalPodAutoscaler') && o.spec!.scaleTargetRef?.name === deployment.metadata.name);
      expect(scalers.length, deployment.metadata.name).toBeLessThanOrEqual(1);
      if (deployment.spec!.replicas !== undefined) expect(scalers, `${deployment.metadata.name} has fixed replicas`).toEqual([]);
      else expect(scalers, `${deployment.metadata.name} leaves replicas to an autoscaler`).toHaveLength(1);
    }
  });
});

describe('the renders', () => {
  it('cover every component and every overlay', () => {
    expect(components.length).toBeGreaterThan(0);
    expect(overlays).toEqual(expect.arrayContaining(['deploy/overlays/example', 'deploy/overlays/without-keda']));
    expect(targets.map((t) => t.name)).toEqual(expect.arrayContaining(components.map((c) => `deploy/kubernetes with components/${c}`)));
  });
});
