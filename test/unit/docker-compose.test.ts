import { readdirSync, readFileSync, statSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { CORE_STAGE_NAMES, PUSH_STAGE_NAMES, STAGE_NAMES, STAGES, type TargetKind } from '../../src/core/stages.js';
import { ensureDeployTools } from './deploy/tools.js';

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, unknown>;
  depends_on?: Record<string, unknown>;
  ports?: string[];
  profiles?: string[];
  container_name?: string;
  deploy?: { replicas?: number };
  healthcheck?: { test?: string[] };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
}

/** The compose profile that starts a target kind's push stages (a Record: a new kind needs one). */
const PROFILE_OF_TARGET: Record<TargetKind, string> = { shopware: 'shopware', woocommerce: 'woocommerce', webhooks: 'webhook-forwarder' };

describe('docker-compose.yml', () => {
  const text = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
  // `merge: true` resolves the `<<:` keys the way Docker Compose does.
  const compose = parse(text, { merge: true }) as Compose;
  const sharedEnv = (parse(text) as { 'x-ragsync-env': Record<string, unknown> })['x-ragsync-env'];
  const ragsync = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

  describe('against the Compose specification', () => {
    let validate: ReturnType<Ajv2020['compile']>;
    beforeAll(async () => {
      // The schema docker compose validates with, from compose-go's module (./deploy/tools.ts).
      const { composeSchema } = await ensureDeployTools((line) => console.log(`deploy tools: ${line}`));
      validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(composeSchema, 'utf8')) as object);
    }, 900_000);

    it('is a valid Compose file', () => {
      validate(parse(text, { merge: true }));
      expect(validate.errors ?? []).toEqual([]);
    });

    it('refuses a service with an unknown key or a wrong type (the check can fail)', () => {
      const broken = structuredClone(parse(text, { merge: true }) as { services: Record<string, Record<string, unknown>> });
      broken.services.map!.stop_grace = '40s';
      broken.services.chunk!.ports = 'not-a-list';
      expect(validate(broken)).toBe(false);
      expect(validate.errors!.map((e) => e.instancePath)).toEqual(expect.arrayContaining(['/services/map', '/services/chunk/ports']));
    });
  });

  it('parses and defines Kafka, a schema registry, Qdrant and Redis', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['kafka', 'registry', 'qdrant', 'redis']));
  });

  it('runs Kafka in KRaft mode without automatic topic creation', () => {
    const env = compose.services.kafka!.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(compose.services.kafka!.image).toMatch(/^apache\/kafka:3\.9\./);
  });

  it('keeps the registry schemas in Kafka', () => {
    expect(compose.services.registry!.environment!.APICURIO_STORAGE_KIND).toBe('kafkasql');
  });

  it('points every ragsync service at the compose services through the shared environment', () => {
    expect(sharedEnv).toMatchObject({ KAFKA_BROKERS: 'kafka:9092', REDIS_URL: 'redis://redis:6379', QDRANT_URL: 'http://qdrant:6333' });
    expect(ragsync.map(([name]) => name)).toEqual(expect.arrayContaining(['topics', ...STAGE_NAMES, 'webhook', 'pull-woocommerce-orders', 'erp-bridge', 'dashboard', 'reconcile']));
    for (const [, service] of ragsync) {
      expect(service.environment).toMatchObject(sharedEnv);
    }
  });

  it('creates the topics in a one-shot setup service', () => {
    const topics = compose.services.topics!;
    expect(topics.command).toEqual(['topics', 'apply']);
    expect(topics.profiles).toEqual(['setup']);
  });

  describe.each(STAGE_NAMES)('the %s stage service', (stage) => {
    const service = compose.services[stage];

    it('runs that one stage', () => {
      expect(service?.command).toEqual(['run', stage]);
    });

    it('is healthy only when /readyz on the worker port answers, fetched with node', () => {
      const test = service!.healthcheck!.test!;
      expect(test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(test[3]).toContain("fetch('http://127.0.0.1:9464/readyz')");
    });

    it('waits for Kafka and gets longer than the 30 s session timeout to stop', () => {
      expect(service!.depends_on).toHaveProperty('kafka');
      expect(Number.parseInt(service!.stop_grace_period!, 10)).toBeGreaterThan(30);
    });
  });

  it('starts the infrastructure, the core stages and the webhook without a profile, and nothing else', () => {
    const always = Object.entries(compose.services)
      .filter(([, s]) => s.profiles === undefined)
      .map(([name]) => name);
    expect(always.sort()).toEqual(['kafka', 'registry', 'qdrant', 'redis', ...CORE_STAGE_NAMES, 'webhook'].sort());
  });

  it('has one profile per push target kind, and only the push stages and the order poller in them', () => {
    const pushProfiles = Object.values(PROFILE_OF_TARGET);
    const profiles = new Set(Object.values(compose.services).flatMap((s) => s.profiles ?? []));
    for (const profile of pushProfiles) expect([...profiles]).toContain(profile);
    for (const [name, service] of Object.entries(compose.services)) {
      const inPushProfile = (service.profiles ?? []).some((p) => pushProfiles.includes(p));
      expect(inPushProfile, name).toBe((PUSH_STAGE_NAMES as readonly string[]).includes(name) || name === 'pull-woocommerce-orders');
    }
  });

  describe.each(PUSH_STAGE_NAMES)('the %s push stage service', (stage) => {
    const service = compose.services[stage];

    it('starts only under the profile of its target kind', () => {
      expect(service?.profiles).toEqual([PROFILE_OF_TARGET[STAGES[stage].target!]]);
    });

    it('reads the tenants and their targets', () => {
      expect(service!.environment).toHaveProperty('RAGSYNC_TENANTS');
    });
  });

  it('runs the WooCommerce order poller under the woocommerce profile, as one container that cannot be scaled', () => {
    const poller = compose.services['pull-woocommerce-orders']!;
    expect(poller.command).toEqual(['run', 'pull-woocommerce-orders']);
    expect(poller.profiles).toEqual([PROFILE_OF_TARGET.woocommerce]);
    expect(poller.environment).toHaveProperty('RAGSYNC_TENANTS');
    // A fixed container name: Compose refuses `--scale pull-woocommerce-orders=2`.
    expect(poller.container_name).toBeTruthy();
    expect(poller.deploy?.replicas ?? 1).toBe(1);
    expect(poller.depends_on).toHaveProperty('kafka');
    expect(Number.parseInt(poller.stop_grace_period!, 10)).toBeGreaterThan(30);
  });

  it('serves the webhook on all container interfaces with its tenants', () => {
    const webhook = compose.services.webhook!;
    expect(webhook.command).toEqual(['webhook', 'serve', '--host', '0.0.0.0', '--port', '8787']);
    expect(webhook.environment).toHaveProperty('RAGSYNC_TENANTS');
    expect(webhook.ports).toEqual(['127.0.0.1:8787:8787']);
  });

  it('names every worker: each stage, the ERP bridge, the order poller, the webhook, the dashboard, the reconcile loop and the topic setup', () => {
    const commands = ragsync.map(([, s]) => s.command!.join(' '));
    for (const stage of STAGE_NAMES) expect(commands).toContain(`run ${stage}`);
    expect(commands).toEqual(expect.arrayContaining(['run erp-bridge', 'run pull-woocommerce-orders', 'topics apply']));
    expect(commands.some((c) => c.startsWith('webhook serve --host 0.0.0.0'))).toBe(true);
    expect(commands.some((c) => c.startsWith('dashboard --host 0.0.0.0'))).toBe(true);
    expect(commands.some((c) => /^reconcile changes --repair --every \d+h$/.test(c))).toBe(true);
  });

  it('runs the same workers as the Kubernetes manifests', () => {
    // The role of a container: `run <stage>`, or the command's first word.
    const role = (args: readonly string[]) => (args[0] === 'run' ? `run ${args[1]}` : args[0]!);
    const kube = new URL('../../deploy/kubernetes/', import.meta.url);
    const files = (dir: URL): URL[] => readdirSync(dir).flatMap((f) => (statSync(new URL(f, dir)).isDirectory() ? files(new URL(`${f}/`, dir)) : /\.ya?ml$/.test(f) ? [new URL(f, dir)] : []));
    const kubeRoles = new Set<string>();
    for (const file of files(kube)) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const text = JSON.stringify(doc.toJS());
        for (const match of text.matchAll(/"args":(\[[^\]]*\])/g)) kubeRoles.add(role(JSON.parse(match[1]!) as string[]));
      }
    }
    const composeRoles = new Set(ragsync.map(([, s]) => role(s.command!)));
    expect([...composeRoles].sort()).toEqual([...kubeRoles].sort());
  });

  it('runs the dashboard under its profile, on the loopback interface, with its token', () => {
    const dashboard = compose.services.dashboard!;
    expect(dashboard.profiles).toEqual(['dashboard']);
    expect(dashboard.environment).toHaveProperty('RAGSYNC_DASHBOARD_TOKEN');
    const port = dashboard.command![dashboard.command!.indexOf('--port') + 1];
    expect(dashboard.ports).toEqual([`127.0.0.1:${port}:${port}`]);
  });

  it('runs reconcile under its profile as one container that cannot be scaled', () => {
    const reconcile = compose.services.reconcile!;
    expect(reconcile.profiles).toEqual(['reconcile']);
    expect(reconcile.container_name).toBeTruthy();
    expect(reconcile.depends_on).toHaveProperty('kafka');
  });

  it('publishes every port on the loopback interface only', () => {
    const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });
});
