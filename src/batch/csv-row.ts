/**
 * One CSV row, as RFC 4180 writes it (https://www.rfc-editor.org/rfc/rfc4180): the data
 * processing filters read a CSV record as the array of its cells (docs/batch.md). Batch
 * transform splits records at newlines, so a row never holds a line break.
 */

/** A row that does not follow RFC 4180 (a quote left open, text after a closing quote). */
export class CsvRowError extends Error {
  override name = "CsvRowError";
}

/**
 * The cells of one row, quotes removed (`""` inside a quoted cell is one `"`). Spaces are part of
 * a cell, as RFC 4180 says.
 *
 * @throws CsvRowError on a malformed quoted cell.
 * @example
 * ```ts
 * parseCsvRow('7,"a, b",3.5'); // ["7", "a, b", "3.5"]
 * ```
 */
export function parseCsvRow(row: string): string[] {
  if (!row.includes('"')) return row.split(",");
  const cells: string[] = [];
  let index = 0;
  for (;;) {
    if (row[index] === '"') {
      let cell = "";
      let position = index + 1;
      for (;;) {
        const quote = row.indexOf('"', position);
        if (quote === -1) throw new CsvRowError(`A quoted CSV cell is not closed: ${JSON.stringify(row.slice(index, index + 40))}`);
        cell += row.slice(position, quote);
        if (row[quote + 1] === '"') {
          cell += '"';
          position = quote + 2;
          continue;
        }
        index = quote + 1;
        break;
      }
      if (index < row.length && row[index] !== ",") throw new CsvRowError(`Text follows the closing quote of a CSV cell: ${JSON.stringify(row.slice(0, 60))}`);
      cells.push(cell);
    } else {
      const comma = row.indexOf(",", index);
      const end = comma === -1 ? row.length : comma;
      cells.push(row.slice(index, end));
      index = end;
    }
    if (index >= row.length) return cells;
    index++;
    if (index === row.length) {
      cells.push("");
      return cells;
    }
  }
}

/**
 * One row from cells: a cell holding a comma, a quote or a line break is quoted. Cells that are
 * not strings (a filter over JSON can give numbers) are written as JSON writes them.
 *
 * @example
 * ```ts
 * formatCsvRow(["7", "a, b", 0.9]); // '7,"a, b",0.9'
 * ```
 */
export function formatCsvRow(cells: readonly unknown[]): string {
  return cells.map(formatCell).join(",");
}

function formatCell(cell: unknown): string {
  const text = typeof cell === "string" ? cell : (JSON.stringify(cell) ?? "");
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
