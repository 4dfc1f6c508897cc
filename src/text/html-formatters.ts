import type { DomNode, FormatCallback } from 'html-to-text';

/** A rendered cell, as html-to-text hands it to a table printer. */
interface TablePrinterCell {
  text: string;
}

/**
 * Custom html-to-text formatters that shape HTML for retrieval rather than for a terminal:
 * headings become markdown-like `# Heading` lines (the chunker splits sections on them), and
 * tables become one readable line per row instead of an ASCII grid (a grid reads as noise to an
 * embedding model).
 */

/** `<h1>`…`<h6>` → `#`…`######` + the heading text on one line, never uppercased. */
export const formatMarkdownHeading: FormatCallback = (elem, walk, builder) => {
  const level = Number((elem.name ?? 'h1').slice(1)) || 1;
  builder.openBlock({ leadingLineBreaks: 2 });
  walk(elem.children, builder);
  builder.closeBlock({
    trailingLineBreaks: 2,
    blockTransform: (text) => {
      const line = text.replace(/\s+/g, ' ').trim();
      return line.length > 0 ? `${'#'.repeat(level)} ${line}` : '';
    },
  });
};

type CellKind = 'th' | 'td';

function cellText(cell: TablePrinterCell): string {
  return cell.text.replace(/\s+/g, ' ').trim();
}

/**
 * One line per row. With a header row (all `<th>`), each data row reads `Header: value; …`;
 * a row led by a `<th>` (a key/value spec table) reads `Key: value`; otherwise cells are joined
 * with ` | `. Empty rows disappear.
 */
function tableToLines(rows: TablePrinterCell[][], kinds: CellKind[][]): string {
  const firstKinds = kinds[0] ?? [];
  const hasHeaderRow = rows.length > 1 && firstKinds.length > 1 && firstKinds.every((kind) => kind === 'th');
  const headers = hasHeaderRow ? (rows[0] ?? []).map(cellText) : [];
  const lines: string[] = [];
  rows.forEach((row, rowIndex) => {
    if (hasHeaderRow && rowIndex === 0) return;
    const texts = row.map(cellText);
    if (texts.every((text) => text.length === 0)) return;
    if (hasHeaderRow) {
      const parts = texts
        .map((text, i) => (text.length === 0 ? '' : headers[i] ? `${headers[i]}: ${text}` : text))
        .filter((part) => part.length > 0);
      lines.push(parts.join('; '));
      return;
    }
    const rowKinds = kinds[rowIndex] ?? [];
    if (texts.length > 1 && rowKinds[0] === 'th' && rowKinds.slice(1).every((kind) => kind === 'td')) {
      lines.push(`${texts[0]}: ${texts.slice(1).filter((t) => t.length > 0).join(' | ')}`);
      return;
    }
    lines.push(texts.filter((text) => text.length > 0).join(' | '));
  });
  return lines.join('\n');
}

/** `<table>` → readable rows (see {@link tableToLines}). Nested tables are flattened into cells. */
export const formatReadableTable: FormatCallback = (elem, walk, builder) => {
  const kinds: CellKind[][] = [];

  const formatCell = (cell: DomNode, kind: CellKind): void => {
    builder.openTableCell();
    walk(cell.children, builder);
    builder.closeTableCell();
    kinds[kinds.length - 1]?.push(kind);
  };

  const walkTable = (node: DomNode): void => {
    if (node.type !== 'tag') return;
    switch (node.name) {
      case 'thead':
      case 'tbody':
      case 'tfoot':
        node.children.forEach(walkTable);
        return;
      case 'tr':
        builder.openTableRow();
        kinds.push([]);
        for (const child of node.children) {
          if (child.type === 'tag' && (child.name === 'th' || child.name === 'td')) formatCell(child, child.name);
        }
        builder.closeTableRow();
        return;
      default:
        return;
    }
  };

  builder.openTable();
  elem.children.forEach(walkTable);
  builder.closeTable({
    tableToString: (rows) => tableToLines(rows, kinds),
    leadingLineBreaks: 2,
    trailingLineBreaks: 2,
  });
};
