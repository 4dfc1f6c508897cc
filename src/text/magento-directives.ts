/**
 * Magento CMS content carries template directives (`{{widget …}}`, `{{store url="…"}}`,
 * `{{trans "…"}}`, …) that the storefront expands at render time. None of them is readable text,
 * except the string of `{{trans "…"}}`, which is what the shopper sees (in the default locale).
 *
 * Directives are removed before the HTML is parsed: a directive inside an attribute often nests
 * double quotes (`href="{{store url="returns"}}"`), which would otherwise break the attribute.
 */

// `{{name args}}` or `{{/name}}`; args may hold quoted strings containing `}` or escaped quotes.
const DIRECTIVE = /\{\{\s*(\/?[A-Za-z_][\w]*)((?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^}"'])*)\}\}/g;
const FIRST_QUOTED = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/;

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * Removes every Magento directive from `content`, keeping the translated string of `{{trans}}`.
 * Block directives (`{{depend}}…{{/depend}}`, `{{if}}…{{else}}…{{/if}}`) lose their tags but keep
 * their content: which branch the storefront shows is unknown here, and both are shop text.
 */
export function stripMagentoDirectives(content: string): string {
  return content.replace(DIRECTIVE, (_match, name: string, args: string) => {
    if (name.toLowerCase() !== 'trans') return '';
    const quoted = FIRST_QUOTED.exec(args);
    if (!quoted) return '';
    return unescape(quoted[1] ?? quoted[2] ?? '');
  });
}
