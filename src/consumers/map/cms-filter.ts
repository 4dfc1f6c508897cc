import type { FilterConfig } from './types.js';

/**
 * Why a CMS page or block is not indexed, or undefined. Inactive content is not on the storefront,
 * so it is never indexed. The whitelist and blacklist of `config.filters` are one list for pages
 * and blocks (identifiers compared case-insensitively): a whitelist must name the blocks to keep too.
 */
export function cmsFilterReason(identifier: string, isActive: boolean, filters: FilterConfig): string | undefined {
  if (!isActive) return 'cms_inactive';
  const id = identifier.trim().toLowerCase();
  const listed = (list: readonly string[]): boolean => list.some((entry) => entry.trim().toLowerCase() === id);
  if (filters.cmsWhitelist.length > 0 && !listed(filters.cmsWhitelist)) return 'cms_not_whitelisted';
  if (listed(filters.cmsBlacklist)) return 'cms_blacklisted';
  return undefined;
}
