/**
 * Storefront paths (relative to the store's base URL, which the index does not know), built the
 * way Magento builds them by default: products and categories get the `.html` URL suffix, CMS pages
 * live at their identifier. A shop with other suffixes can still use `url_key` / `url_path` from
 * the payload.
 */
function withSuffix(path: string): string {
  const trimmed = path.replace(/^\/+/, '');
  return `/${trimmed.endsWith('.html') ? trimmed : `${trimmed}.html`}`;
}

export function productUrl(urlKey: string | null): string | null {
  return urlKey && urlKey.trim().length > 0 ? withSuffix(urlKey.trim()) : null;
}

export function categoryUrl(urlPath: string | null): string | null {
  return urlPath && urlPath.trim().length > 0 ? withSuffix(urlPath.trim()) : null;
}

export function cmsPageUrl(identifier: string): string {
  return `/${identifier.trim().replace(/^\/+/, '')}`;
}
