export { WoocommerceSink, type WoocommerceSinkOptions, type WooSinkLogger } from './sink.js';
export { IdMap, type ShopLocation } from './id-map.js';
export { buildPayload, guard, META, parentSkuOf, priceString, type FieldClass } from './payload.js';
