/** The entity types that have their own change topic and become documents (docs/design.md §1). */
export const ENTITY_TYPES = ['product', 'category', 'cms_page', 'cms_block', 'promotion'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/**
 * Aspects are partial values keyed like their entity. They never share a compacted topic with the
 * full entity (compaction would keep the partial one) and never become documents: the store
 * applies them as payload updates with their own versions.
 */
export const ASPECT_TYPES = ['product_price', 'product_stock'] as const;
export type AspectType = (typeof ASPECT_TYPES)[number];

export type ChangeType = EntityType | AspectType;
export const CHANGE_TYPES: readonly ChangeType[] = [...ENTITY_TYPES, ...ASPECT_TYPES];

export function isEntityType(value: string): value is EntityType {
  return (ENTITY_TYPES as readonly string[]).includes(value);
}

export function isAspectType(value: string): value is AspectType {
  return (ASPECT_TYPES as readonly string[]).includes(value);
}

/** The entity an aspect belongs to: both share the key, so an aspect finds its document. */
export function aspectEntity(_aspect: AspectType): EntityType {
  return 'product';
}
