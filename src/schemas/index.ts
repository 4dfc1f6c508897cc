export * from './zod/product.js';
export * from './zod/content.js';
export * from './zod/order.js';
export { documentRecordSchema, chunkSetRecordSchema, vectorSetRecordSchema } from './zod/pipeline.js';
export {
  CHANGE_SCHEMAS,
  ORDER_SCHEMA,
  PIPELINE_SCHEMAS,
  TOPIC_SCHEMAS,
  changeTopicName,
  schemaForTopic,
  type PipelineTopic,
  type ValueSchema,
} from './catalogue.js';
export { validateChange, toIssues, type ValidationIssue, type ValidationResult } from './validate.js';
export { SCHEMA_NAMES, loadAvsc, releasedVersions, type SchemaName } from './avsc-files.js';
export { avroType, avroTypeOptions, invalidAvroPaths, createDecoder } from './avro-types.js';
