import { PermanentError } from '../../core/errors.js';
import { clean } from './compose-text.js';

/** The cleaned value of a field the document cannot do without; blank is a malformed record. */
export function requireText(value: string | null | undefined, field: string, entity: string): string {
  const text = clean(value);
  if (text.length === 0) {
    throw new PermanentError(`${entity} value has no ${field}: a ${entity} document needs one`, { code: 'missing_field' });
  }
  return text;
}
