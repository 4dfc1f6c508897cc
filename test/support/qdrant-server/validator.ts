import { Ajv, type ValidateFunction } from 'ajv';
import type { OperationSchemas, QdrantApiSchema } from './api-schema.js';

/** Validators for requests and responses, compiled once per server from the published API. */
export interface Validators {
  /** Problems with a request, empty when it matches the operation's parameters and body. */
  request(route: OperationSchemas, parts: { path: Record<string, string>; query: Record<string, unknown>; body: unknown }): string[];
  /** A problem with a 200 response envelope, or undefined. */
  response(route: OperationSchemas, envelope: unknown): string | undefined;
  errorResponse(body: unknown): string | undefined;
}

const ID = 'qdrant-api';

export function createValidators(schema: QdrantApiSchema): Validators {
  // Generated from TypeScript types: no `format`s, and draft-07 keywords only.
  const strict = new Ajv({ strict: false, allErrors: true });
  // Query strings arrive as text: `wait=true` is the boolean the API declares.
  const coercing = new Ajv({ strict: false, allErrors: true, coerceTypes: true });
  strict.addSchema(schema.document, ID);
  coercing.addSchema(schema.document, ID);
  const cache = new Map<string, ValidateFunction>();
  const get = (ajv: Ajv, pointer: string): ValidateFunction => {
    const key = `${ajv === coercing ? 'q' : 's'}${pointer}`;
    let validate = cache.get(key);
    if (validate === undefined) {
      validate = ajv.getSchema(`${ID}${pointer}`);
      if (validate === undefined) throw new Error(`no schema at ${pointer}`);
      cache.set(key, validate);
    }
    return validate;
  };
  const check = (validate: ValidateFunction, value: unknown, label: string): string | undefined =>
    validate(value) ? undefined : `${label}: ${strict.errorsText(validate.errors, { dataVar: label })}`;

  return {
    request(route, { path, query, body }) {
      const problems: string[] = [];
      if (route.path !== undefined) problems.push(check(get(strict, route.path), path, 'path') ?? '');
      if (route.query !== undefined) problems.push(check(get(coercing, route.query), query, 'query') ?? '');
      else if (Object.keys(query).length > 0) problems.push(`query: ${route.operationId} takes no query parameters`);
      if (body !== undefined) {
        if (route.body === undefined) problems.push(`body: ${route.operationId} takes no body`);
        else problems.push(check(get(strict, route.body), body, 'body') ?? '');
      }
      return problems.filter((problem) => problem !== '');
    },
    response(route, envelope) {
      return route.ok === undefined ? undefined : check(get(strict, route.ok), envelope, 'response');
    },
    errorResponse(body) {
      return check(get(strict, schema.errorResponse), body, 'error');
    },
  };
}
