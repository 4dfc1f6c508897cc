import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { pythonEnv } from '../../support/python-env.js';

/**
 * The tools that check the deploy manifests, built from package registries and cached:
 * - kubeconform and kustomize, compiled from the Go module proxy with `go install`;
 * - the Kubernetes JSON schemas of the PyPI package `kubernetes-validate` (strict variants: an
 *   unknown field is an error), made standalone (each kind's schema with the definitions it uses);
 * - the CRD schemas of KEDA's ScaledObject and the Prometheus Operator's PrometheusRule, from the
 *   CRD YAML files inside those projects' Go module zips, converted like kubeconform's
 *   openapi2jsonschema (strict: no field a CRD does not declare, unless it preserves unknown fields).
 *
 * Everything lands under `RAGSYNC_TOOLS_DIR` (default `$XDG_CACHE_HOME/ragsync/tools` or
 * `~/.cache/ragsync/tools`), one folder per pinned version, written to a temporary name and renamed
 * into place, so a half-built tool is never used. Needs Go (`go` on the PATH, `/usr/local/go/bin/go`,
 * or `GO`) and python3 with venv; a missing one is an error that names it, never a skip.
 */
export const VERSIONS = {
  kubeconform: 'v0.8.0',
  kustomize: 'v5.8.1',
  /** PyPI kubernetes-validate; its schemas for this Kubernetes version are used. */
  kubernetesValidate: '1.34.1',
  kubernetes: '1.34.0',
  keda: 'v2.18.0',
  prometheusOperator: 'v0.85.0',
  /** The Compose file schema docker compose itself validates with, from compose-go's module. */
  composeGo: 'v2.16.2',
} as const;

const GO_TOOLS = {
  kubeconform: `github.com/yannh/kubeconform/cmd/kubeconform@${VERSIONS.kubeconform}`,
  kustomize: `sigs.k8s.io/kustomize/kustomize/v5@${VERSIONS.kustomize}`,
} as const;

/** CRDs whose kinds the manifests use: Go module, and the CRD file inside its zip. */
const CRDS = [
  { module: `github.com/kedacore/keda/v2@${VERSIONS.keda}`, file: 'config/crd/bases/keda.sh_scaledobjects.yaml' },
  { module: `github.com/prometheus-operator/prometheus-operator@${VERSIONS.prometheusOperator}`, file: 'example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml' },
] as const;

const COMPOSE_SCHEMA = { module: `github.com/compose-spec/compose-go/v2@${VERSIONS.composeGo}`, file: 'schema/compose-spec.json' } as const;

export interface DeployTools {
  kubeconform: string;
  kustomize: string;
  /** Folder of `<kind>-<group>-<version>.json` schemas, kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json`. */
  schemaDir: string;
  /** The Compose specification's JSON schema (JSON Schema 2020-12). */
  composeSchema: string;
}

const run = promisify(execFile);

export function toolsDir(): string {
  if (process.env.RAGSYNC_TOOLS_DIR) return path.resolve(process.env.RAGSYNC_TOOLS_DIR);
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'ragsync', 'tools');
}

async function step(what: string, file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await run(file, args, { env, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`${what} failed: ${(stderr ?? '').trim().split('\n').slice(-15).join('\n') || message}`);
  }
}

/** The Go toolchain: `GO`, `go` on the PATH, or the official tarball's place. */
async function findGo(): Promise<string> {
  const candidates = [process.env.GO, 'go', '/usr/local/go/bin/go'].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    try {
      await run(candidate, ['version'], { timeout: 30_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error('Go is needed to build kubeconform and kustomize from the Go module proxy: install it (https://go.dev/dl/, or the golang Debian package) or set GO to its binary');
}

/** Builds into a temporary folder, then renames into `target`: the first finished build wins. */
async function atomically(target: string, build: (temp: string) => Promise<void>): Promise<void> {
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await mkdir(path.dirname(target), { recursive: true });
  try {
    await build(temp);
    try {
      await rename(temp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
    }
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function goTool(go: string, name: keyof typeof GO_TOOLS, log: (line: string) => void): Promise<string> {
  const folder = path.join(toolsDir(), 'bin', `${name}-${VERSIONS[name]}`);
  const binary = path.join(folder, name);
  if (!existsSync(binary)) {
    log(`building ${GO_TOOLS[name]} with go install (first run only)`);
    await atomically(folder, async (temp) => {
      await mkdir(temp, { recursive: true });
      await step(`go install ${GO_TOOLS[name]}`, go, ['install', GO_TOOLS[name]], { ...process.env, GOBIN: temp, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' });
    });
  }
  return binary;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `/api/_definitions.json#/$defs/X` (kubernetes-validate's layout) → `#/$defs/X`, collecting the names. */
function localRefs(node: Json, seen: Set<string>): Json {
  if (Array.isArray(node)) return node.map((n) => localRefs(n, seen));
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      const match = /^[^#]*#\/\$defs\/(.+)$/.exec(value);
      if (!match) throw new Error(`unexpected $ref ${value} in the Kubernetes schemas`);
      seen.add(match[1]!);
      out[key] = `#/$defs/${match[1]}`;
    } else out[key] = localRefs(value, seen);
  }
  return out;
}

async function kubernetesSchemas(target: string, log: (line: string) => void): Promise<number> {
  const python = await pythonEnv({ name: 'kubernetes-validate', packages: [`kubernetes-validate==${VERSIONS.kubernetesValidate}`], imports: ['kubernetes_validate'] }, log);
  const packageDir = (await step('locating kubernetes_validate', python, ['-c', 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))'])).trim();
  const source = path.join(packageDir, 'kubernetes-json-schema', `v${VERSIONS.kubernetes}-local-strict`);
  if (!existsSync(source)) throw new Error(`kubernetes-validate ${VERSIONS.kubernetesValidate} has no schemas for Kubernetes ${VERSIONS.kubernetes} (${source})`);
  const definitions = (JSON.parse(await readFile(path.join(source, '_definitions.json'), 'utf8')) as { $defs: Record<string, Json> }).$defs;
  const files = (await readdir(source)).filter((f) => f.endsWith('.json') && !f.startsWith('_'));
  for (const file of files) {
    const schema = JSON.parse(await readFile(path.join(source, file), 'utf8')) as { [key: string]: Json };
    delete schema.$id;
    const pending = new Set<string>();
    const root = localRefs(schema, pending) as { [key: string]: Json };
    // The closure of the definitions the kind uses, each rewritten the same way.
    const defs: Record<string, Json> = {};
    while (pending.size > 0) {
      const name = pending.values().next().value as string;
      pending.delete(name);
      if (name in defs) continue;
      if (!(name in definitions)) throw new Error(`${file}: definition ${name} missing from _definitions.json`);
      const found = new Set<string>();
      defs[name] = localRefs(definitions[name]!, found);
      for (const n of found) if (!(n in defs)) pending.add(n);
    }
    await writeFile(path.join(target, file), JSON.stringify({ ...root, $defs: defs }));
  }
  return files.length;
}

/**
 * A CRD version's openAPIV3Schema as kubeconform validates it (its openapi2jsonschema, strict):
 * int-or-string becomes a string-or-integer, and an object that lists its properties refuses others
 * unless it preserves unknown fields.
 */
export function crdToJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(crdToJsonSchema);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'properties' && value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, crdToJsonSchema(v)])) : crdToJsonSchema(value);
  if (out['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (out.properties !== undefined && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  return out;
}

interface Crd {
  kind: string;
  spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema?: { openAPIV3Schema: Json } }> };
}

/** A file of a Go module, downloaded through the module proxy into the module cache. */
async function moduleFile(go: string, source: { module: string; file: string }, log: (line: string) => void): Promise<string> {
  log(`downloading ${source.module} from the Go module proxy for ${source.file} (first run only)`);
  const info = JSON.parse(await step(`go mod download ${source.module}`, go, ['mod', 'download', '-json', source.module])) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${source.module}: ${info.Error ?? 'no module folder'}`);
  return readFile(path.join(info.Dir, source.file), 'utf8');
}

async function crdSchemas(go: string, target: string, log: (line: string) => void): Promise<number> {
  let written = 0;
  for (const crd of CRDS) {
    const docs = parseAllDocuments(await moduleFile(go, crd, log)).map((d) => d.toJS() as Crd);
    for (const doc of docs.filter((d) => d?.kind === 'CustomResourceDefinition')) {
      const { group, names, versions } = doc.spec;
      for (const version of versions) {
        if (!version.schema) continue;
        const schema = crdToJsonSchema(version.schema.openAPIV3Schema) as { [key: string]: Json };
        const name = `${names.kind.toLowerCase()}-${group.split('.')[0]}-${version.name}.json`;
        await writeFile(path.join(target, name), JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...schema }));
        written++;
      }
    }
  }
  if (written === 0) throw new Error('no CRD schema found in the KEDA and Prometheus Operator modules');
  return written;
}

async function schemas(go: string, log: (line: string) => void): Promise<string> {
  const folder = path.join(toolsDir(), 'schemas', `k8s-${VERSIONS.kubernetes}-kv${VERSIONS.kubernetesValidate}-keda${VERSIONS.keda}-po${VERSIONS.prometheusOperator}-compose${VERSIONS.composeGo}`);
  if (!existsSync(folder)) {
    log(`writing standalone JSON schemas to ${folder} (first run only)`);
    await atomically(folder, async (temp) => {
      await mkdir(temp, { recursive: true });
      const kinds = await kubernetesSchemas(temp, log);
      const crds = await crdSchemas(go, temp, log);
      await mkdir(path.join(temp, 'compose'));
      await writeFile(path.join(temp, 'compose', 'compose-spec.json'), await moduleFile(go, COMPOSE_SCHEMA, log));
      log(`${kinds} Kubernetes schemas, ${crds} CRD schemas`);
    });
  }
  return folder;
}

let prepared: Promise<DeployTools> | undefined;

/** Builds or finds kubeconform, kustomize and the schemas; rejects naming what is missing. */
export function ensureDeployTools(log: (line: string) => void = () => undefined): Promise<DeployTools> {
  prepared ??= (async () => {
    const go = await findGo();
    const [kubeconform, kustomize] = [await goTool(go, 'kubeconform', log), await goTool(go, 'kustomize', log)];
    const schemaDir = await schemas(go, log);
    return { kubeconform, kustomize, schemaDir, composeSchema: path.join(schemaDir, 'compose', 'compose-spec.json') };
  })();
  prepared.catch(() => {
    prepared = undefined;
  });
  return prepared;
}
