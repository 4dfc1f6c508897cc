import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Schema, Type } from 'avsc';
import type { Config } from '../config/index.js';
import { PermanentError, RetryableError, SystemError } from '../core/errors.js';
import { avroTypeOptions } from '../schemas/avro-types.js';
import { explainIncompatibility } from '../schemas/compatibility.js';

/**
 * The Confluent-compatible Schema Registry (Confluent, Apicurio's ccompat API, Karapace…). Values
 * are registered under TopicNameStrategy (`<topic>-value`) with compatibility FULL_TRANSITIVE set on
 * the subject *before* the schema is registered, so even the first registration is checked against
 * the subject's rule. Writer schemas are looked up by id and cached for the life of the process
 * (ids are immutable).
 *
 * Errors: registry unreachable or 5xx/429 → RetryableError (`registry_unavailable`); 401/403 →
 * SystemError (`registry_unauthorized`); an incompatible schema → SystemError
 * (`schema_incompatible`) naming the subject and the offending fields; an unknown schema id →
 * PermanentError (`schema_id_unknown`: the record cannot be decoded).
 */
export class RegistryClient {
  private readonly client: SchemaRegistry;
  private readonly baseUrl: string;
  private readonly authHeader: string | undefined;

  constructor(options: Config['registry']) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    const auth = options.username ? { username: options.username, password: options.password ?? '' } : undefined;
    this.authHeader = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined;
    this.client = new SchemaRegistry(
      { host: this.baseUrl, clientId: 'ragsync', ...(auth ? { auth } : {}), retry: { retries: 2, maxRetryTimeInSecs: 2 } },
      { [SchemaType.AVRO]: avroTypeOptions() },
    );
  }

  /** Registers `schema` under `subject` (idempotent: an identical schema returns its existing id). */
  async register(subject: string, schema: Schema): Promise<number> {
    await this.setCompatibility(subject, COMPATIBILITY.FULL_TRANSITIVE);
    try {
      const { id } = await this.client.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
        { subject, compatibility: COMPATIBILITY.FULL_TRANSITIVE, updateConfig: false },
      );
      return id;
    } catch (error) {
      if (statusOf(error) === 409) throw await this.incompatible(subject, schema, error);
      throw classifyRegistryError(error, `registering the schema of subject "${subject}"`);
    }
  }

  /** The writer type of a schema id, built like every ragsync type (bigint longs, constraints). */
  async writerType(id: number): Promise<Type> {
    try {
      return (await this.client.getSchema(id)) as unknown as Type;
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new PermanentError(`schema id ${id} is not known to the registry`, { code: 'schema_id_unknown', cause: error });
      }
      throw classifyRegistryError(error, `fetching schema id ${id}`);
    }
  }

  /** The latest schema registered under `subject`, or undefined when the subject does not exist. */
  async latestSchema(subject: string): Promise<{ version: number; id: number; schema: Schema } | undefined> {
    const response = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (response.status === 404) return undefined;
    const body = (await response.json()) as { version: number; id: number; schema: string };
    return { version: body.version, id: body.id, schema: JSON.parse(body.schema) as Schema };
  }

  /** The compatibility level set on `subject` itself, or undefined when it has none of its own. */
  async compatibility(subject: string): Promise<string | undefined> {
    const response = await this.request('GET', `/config/${encodeURIComponent(subject)}`);
    if (response.status === 404) return undefined;
    const body = (await response.json().catch(() => ({}))) as { compatibilityLevel?: unknown; compatibility?: unknown };
    const level = body.compatibilityLevel ?? body.compatibility;
    return typeof level === 'string' ? level : undefined;
  }

  /**
   * Sets the subject's compatibility level, idempotent under concurrency: several processes
   * registering a new subject at once (replicas, `run all` next to `webhook serve`) all succeed.
   * A level already in place is left alone; when a concurrent writer created the subject's rule
   * first (Apicurio's ccompat API answers 409 "A rule named 'COMPATIBILITY' already exists"), the
   * level is read back and, if another one, set again (the rule now exists, so that updates it).
   */
  async setCompatibility(subject: string, level: COMPATIBILITY): Promise<void> {
    if ((await this.compatibility(subject)) === level) return;
    const path = `/config/${encodeURIComponent(subject)}`;
    for (let attempt = 1; ; attempt += 1) {
      const response = await this.request('PUT', path, { compatibility: level }, [409]);
      if (response.ok) return;
      const current = await this.compatibility(subject);
      if (current === level) return;
      if (attempt >= 3) {
        const text = await response.text().catch(() => '');
        throw classifyRegistryError({ status: response.status, message: text.slice(0, 300) }, `PUT ${path}`);
      }
      // The concurrent writer's rule exists now: a short pause, and the next PUT updates it.
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt + Math.random() * 50));
    }
  }

  /** Deletes a subject (soft, then permanent). For tests and `topics` clean-up only. */
  async deleteSubject(subject: string): Promise<void> {
    const path = `/subjects/${encodeURIComponent(subject)}`;
    await this.request('DELETE', path, undefined, [404]);
    await this.request('DELETE', `${path}?permanent=true`, undefined, [404]);
  }

  private async incompatible(subject: string, schema: Schema, cause: unknown): Promise<SystemError> {
    const latest = await this.latestSchema(subject).catch(() => undefined);
    const reasons = latest ? explainIncompatibility(latest.schema, schema) : [];
    const against = latest ? ` with version ${latest.version}` : '';
    const why = reasons.length > 0 ? reasons.join('; ') : `the registry said: ${messageOf(cause)}`;
    return new SystemError(`schema for subject "${subject}" is incompatible (FULL_TRANSITIVE)${against}: ${why}`, {
      code: 'schema_incompatible',
      cause,
    });
  }

  private async request(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/vnd.schemaregistry.v1+json, application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/vnd.schemaregistry.v1+json' }),
          ...(this.authHeader ? { authorization: this.authHeader } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (cause) {
      throw new RetryableError(`schema registry at ${this.baseUrl} did not answer ${method} ${path}: ${messageOf(cause)}`, {
        code: 'registry_unavailable',
        cause,
      });
    }
    if (response.ok || okStatuses.includes(response.status) || (method === 'GET' && response.status === 404)) return response;
    const text = await response.text().catch(() => '');
    throw classifyRegistryError({ status: response.status, message: text.slice(0, 300) }, `${method} ${path}`);
  }
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error);
}

/** One classification of registry failures, at the edge of the registry client. */
export function classifyRegistryError(error: unknown, what: string): Error {
  const status = statusOf(error);
  const message = `schema registry failed ${what}: ${messageOf(error)}`;
  if (status === 401 || status === 403) return new SystemError(message, { code: 'registry_unauthorized', cause: error });
  if (status === undefined || status === 0 || status === 408 || status === 429 || status >= 500) {
    return new RetryableError(message, { code: 'registry_unavailable', cause: error });
  }
  return new SystemError(message, { code: 'registry_rejected', cause: error });
}
