import type { ShopwareTestServer } from './shopware-server.js';
import type { WooTestServer } from './woocommerce-server.js';

/** The tax rate and sales channel ids the loopback Shopware is started and configured with. */
export const SHOP_TAX_ID = '4f6a1c0e9b2d47c8a3e5f7091b2c3d4e';
export const SHOP_CHANNEL_ID = '98432def39fc4624b33213a56b8c944d';

/**
 * `RAGSYNC_TENANTS` for one tenant whose changes go to both loopback shops (start Shopware with
 * `taxIds: [SHOP_TAX_ID]`).
 */
export function shopTenants(tenant: string, shopware: ShopwareTestServer, woo: WooTestServer, options: { batchSize?: number } = {}): string {
  const batch = options.batchSize === undefined ? {} : { batchSize: options.batchSize };
  return JSON.stringify({
    [tenant]: {
      secrets: [],
      stores: [0],
      targets: {
        shopware: { url: shopware.url, clientId: shopware.clientId, clientSecret: shopware.clientSecret, taxId: SHOP_TAX_ID, salesChannels: [{ id: SHOP_CHANNEL_ID }], ...batch },
        woocommerce: { url: woo.url, consumerKey: woo.consumerKey, consumerSecret: woo.consumerSecret, ...batch },
      },
    },
  });
}
