import { isEntityType, type EntityType } from './entities.js';
import { PermanentError } from './errors.js';

/**
 * Record keys are the UTF-8 string `tenant/entity_type/entity_id/store_id` (docs/design.md §2), never
 * Avro: a new key schema would change the bytes and so break compaction and partitioning.
 * Each part is NFC-normalised and percent-encoded, so ids may contain `/`, `#`, spaces and
 * non-ASCII characters and still parse back to themselves.
 */
export interface EntityKey {
  tenant: string;
  entityType: EntityType;
  entityId: string;
  storeId: number;
}

export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertTenant(tenant: string): string {
  if (!TENANT_PATTERN.test(tenant)) {
    throw new PermanentError(
      `invalid tenant "${tenant}": expected ${TENANT_PATTERN.source} (lowercase letters, digits, _ and -, at most 63)`,
      { code: 'invalid_tenant' },
    );
  }
  return tenant;
}

function encodePart(part: string): string {
  return encodeURIComponent(part.normalize('NFC'));
}

function decodePart(part: string, key: string): string {
  try {
    return decodeURIComponent(part);
  } catch (cause) {
    throw new PermanentError(`invalid key "${key}": bad percent-encoding`, { code: 'invalid_key', cause });
  }
}

export function formatKey(key: EntityKey): string {
  assertTenant(key.tenant);
  if (!isEntityType(key.entityType)) {
    throw new PermanentError(`invalid key: unknown entity type "${String(key.entityType)}"`, { code: 'invalid_key' });
  }
  if (key.entityId.length === 0) {
    throw new PermanentError('invalid key: entity id is empty', { code: 'invalid_key' });
  }
  if (!Number.isSafeInteger(key.storeId) || key.storeId < 0) {
    throw new PermanentError(`invalid key: store_id ${key.storeId} is not a non-negative integer`, { code: 'invalid_key' });
  }
  return [encodePart(key.tenant), encodePart(key.entityType), encodePart(key.entityId), String(key.storeId)].join('/');
}

export function parseKey(key: string): EntityKey {
  const parts = key.split('/');
  if (parts.length !== 4) {
    throw new PermanentError(`invalid key "${key}": expected tenant/entity_type/entity_id/store_id`, { code: 'invalid_key' });
  }
  const [tenantPart, typePart, idPart, storePart] = parts as [string, string, string, string];
  const tenant = assertTenant(decodePart(tenantPart, key));
  const entityType = decodePart(typePart, key);
  if (!isEntityType(entityType)) {
    throw new PermanentError(`invalid key "${key}": unknown entity type "${entityType}"`, { code: 'invalid_key' });
  }
  const entityId = decodePart(idPart, key);
  if (entityId.length === 0) {
    throw new PermanentError(`invalid key "${key}": entity id is empty`, { code: 'invalid_key' });
  }
  if (!/^(0|[1-9][0-9]*)$/.test(storePart) || !Number.isSafeInteger(Number(storePart))) {
    throw new PermanentError(`invalid key "${key}": store_id "${storePart}" is not a non-negative integer`, { code: 'invalid_key' });
  }
  return { tenant, entityType, entityId, storeId: Number(storePart) };
}
