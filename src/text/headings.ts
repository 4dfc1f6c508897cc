/**
 * Heading lines are how structure survives in readable text: html-to-text and the mappers write
 * a heading as `# Heading` (one `#` per level), and the chunker splits sections on them.
 */
const HEADING_LINE = /^(#{1,6}) (\S.*)$/;

export function isHeadingLine(line: string): boolean {
  return HEADING_LINE.test(line);
}

/** The words of a heading line without its `#` marks, or undefined for another line. */
export function headingText(line: string): string | undefined {
  return HEADING_LINE.exec(line)?.[2]?.trim();
}

export function headingLine(text: string, level = 1): string {
  return `${'#'.repeat(level)} ${text.replace(/\s+/g, ' ').trim()}`;
}
