import { isHeadingLine } from '../../text/headings.js';

/**
 * A section is a heading line (`# …`, as html-to-text and the mappers write them) and the text up
 * to the next heading. The chunker packs each section on its own, so an edit inside one section
 * never moves chunk boundaries in another.
 */
export interface Section {
  /** The heading line(s), or null for text before the first heading. */
  heading: string | null;
  body: string;
}


/**
 * Splits text into sections in one pass. A heading directly followed by another heading (a section
 * without body, e.g. `# Help` then `## Returns`) is merged into the next one, so its words stay in
 * the index as context of the text that follows.
 */
export function splitSections(text: string): Section[] {
  const sections: Section[] = [];
  let heading: string[] = [];
  let body: string[] = [];

  const flush = (): void => {
    const bodyText = body.join('\n').trim();
    if (bodyText.length === 0 && heading.length > 0) return; // keep the heading for the next section
    if (bodyText.length > 0) sections.push({ heading: heading.length > 0 ? heading.join('\n') : null, body: bodyText });
    heading = [];
    body = [];
  };

  for (const line of text.split('\n')) {
    if (isHeadingLine(line)) {
      flush();
      heading.push(line.trim());
    } else {
      body.push(line);
    }
  }
  flush();
  // Trailing headings without any body: keep them as a section of their own, so no text is lost.
  if (heading.length > 0) sections.push({ heading: null, body: heading.join('\n') });
  return sections;
}
