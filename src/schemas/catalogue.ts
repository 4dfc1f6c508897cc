import type { Type } from 'avsc';
import type { z } from 'zod';
import type { ChangeType } from '../core/entities.js';
import { avroType } from './avro-types.js';
import { loadAvsc, type SchemaName } from './avsc-files.js';
import { categoryChangeSchema, cmsBlockChangeSchema, cmsPageChangeSchema, promotionChangeSchema } from './zod/content.js';
import { orderSchema } from './zod/order.js';
import { mapStateRecordSchema } from './zod/map-state.js';
import { chunkSetRecordSchema, documentRecordSchema, vectorSetRecordSchema } from './zod/pipeline.js';
import { productChangeSchema, productPriceChangeSchema, productStockChangeSchema } from './zod/product.js';

/**
 * Which value schema each topic carries: the Avro reader schema (the latest released `.avsc`) and
 * the zod schema that validates the same values at the edge. Keyed by logical topic name (without
 * the configurable prefix).
 */
export interface ValueSchema<S extends z.ZodType = z.ZodType> {
  /** Folder under src/schemas/avro. */
  name: SchemaName;
  zod: S;
  /** The avsc reader type, built on first use. */
  avro(): Type;
}

function valueSchema<S extends z.ZodType>(name: SchemaName, zod: S): ValueSchema<S> {
  let type: Type | undefined;
  return { name, zod, avro: () => (type ??= avroType(loadAvsc(name))) };
}

/** Change events by change type: the value of `changes.<type>`. */
export const CHANGE_SCHEMAS = {
  product: valueSchema('product', productChangeSchema),
  category: valueSchema('category', categoryChangeSchema),
  cms_page: valueSchema('cms_page', cmsPageChangeSchema),
  cms_block: valueSchema('cms_block', cmsBlockChangeSchema),
  promotion: valueSchema('promotion', promotionChangeSchema),
  product_price: valueSchema('product_price', productPriceChangeSchema),
  product_stock: valueSchema('product_stock', productStockChangeSchema),
} satisfies Record<ChangeType, ValueSchema>;

export const ORDER_SCHEMA = valueSchema('order', orderSchema);

/** The pipeline's own topics. */
export const PIPELINE_SCHEMAS = {
  documents: valueSchema('document', documentRecordSchema),
  chunks: valueSchema('chunk_set', chunkSetRecordSchema),
  vectors: valueSchema('vector_set', vectorSetRecordSchema),
};
export type PipelineTopic = keyof typeof PIPELINE_SCHEMAS;

/** State topics of stages: `map.state` holds the newest applied change per key (docs/design.md §2). */
export const STATE_SCHEMAS = {
  'map.state': valueSchema('map_state', mapStateRecordSchema),
};

/** The logical topic of a change type: `changes.<type>`. */
export function changeTopicName(type: ChangeType): `changes.${ChangeType}` {
  return `changes.${type}`;
}

/** Every topic that carries Avro values, by logical name. */
export const TOPIC_SCHEMAS: Readonly<Record<string, ValueSchema>> = Object.freeze({
  ...Object.fromEntries(Object.entries(CHANGE_SCHEMAS).map(([type, schema]) => [changeTopicName(type as ChangeType), schema])),
  orders: ORDER_SCHEMA,
  ...PIPELINE_SCHEMAS,
  ...STATE_SCHEMAS,
} as Record<string, ValueSchema>);

/** The value schema of a logical topic, or undefined when the topic carries no Avro values (DLQ, retry). */
export function schemaForTopic(logicalTopic: string): ValueSchema | undefined {
  return Object.hasOwn(TOPIC_SCHEMAS, logicalTopic) ? TOPIC_SCHEMAS[logicalTopic] : undefined;
}
