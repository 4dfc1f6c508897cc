import { randomBytes } from 'node:crypto';

/** A name no other test (or earlier run) uses: topics, groups, Redis prefixes, collections. */
export function uniqueName(label: string): string {
  return `t-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
