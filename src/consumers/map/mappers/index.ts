import type { EntityType } from '../../../core/entities.js';
import { PermanentError } from '../../../core/errors.js';
import type { EntityMapper, MapContext, MappedDocument } from '../types.js';
import { categoryMapper } from './category.js';
import { cmsBlockMapper } from './cms-block.js';
import { cmsPageMapper } from './cms-page.js';
import { productMapper } from './product.js';
import { promotionMapper } from './promotion.js';

export type MapOutcome = { kind: 'document'; document: MappedDocument } | { kind: 'filtered'; reason: string };

function run<V>(entityType: EntityType, mapper: EntityMapper<V>, raw: unknown, context: MapContext): MapOutcome {
  const parsed = mapper.schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(value)'}: ${issue.message}`).join('; ');
    throw new PermanentError(`invalid ${entityType} change: ${issues}`, { code: 'validation_failed', cause: parsed.error });
  }
  const reason = mapper.filterReason(parsed.data, context);
  if (reason !== undefined) return { kind: 'filtered', reason };
  return { kind: 'document', document: mapper.map(parsed.data) };
}

/**
 * Validates a decoded change value of `entityType`, applies the entity filters and maps it.
 * Throws a PermanentError naming the fields when the value is malformed.
 */
export function mapEntity(entityType: EntityType, raw: unknown, context: MapContext): MapOutcome {
  switch (entityType) {
    case 'product':
      return run(entityType, productMapper, raw, context);
    case 'category':
      return run(entityType, categoryMapper, raw, context);
    case 'cms_page':
      return run(entityType, cmsPageMapper, raw, context);
    case 'cms_block':
      return run(entityType, cmsBlockMapper, raw, context);
    case 'promotion':
      return run(entityType, promotionMapper, raw, context);
  }
}
