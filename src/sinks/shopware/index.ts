export { ShopwareSink, type ShopwareSinkOptions, type ShopwareWriteStats } from './shopware-sink.js';
export { productId } from './mapping.js';
