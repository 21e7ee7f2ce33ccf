import { open } from 'node:fs/promises';
import { TextDecoder } from 'node:util';
import { DataError } from '../errors';
import { splitCsvLine } from './csv';

/** Largest item titles file read; it is read whole. */
export const MAX_TITLES_BYTES = 64 * 1024 * 1024;

/** How the lines of a titles file split: MovieLens 100K `u.item`, 1M `movies.dat`, "latest" `movies.csv`. */
type TitlesLayout = '|' | '::' | ',';

/**
 * Reads item titles, for showing a recommender's output: item id → title.
 * The layout is told by the separator that ends the first field of the
 * first non-empty line: `id|title|release date|…` (MovieLens 100K `u.item`),
 * `id::title::genres` (1M `movies.dat`) or CSV with quoting
 * `movieId,title,genres` ("latest" `movies.csv`). A first line whose title
 * field is `title` is a header. Text that is not valid UTF-8 is read as
 * ISO-8859-1 (latin1), the encoding of `u.item`. Blank lines are skipped.
 *
 * @throws DataError for a file over {@link MAX_TITLES_BYTES}, a line with fewer than 2 fields,
 *   an empty id or an id given twice, each naming the file and line.
 * @example
 * const titles = await readItemTitles('ml-100k/u.item');
 * titles.get('1') // 'Toy Story (1995)'
 */
export async function readItemTitles(path: string): Promise<Map<string, string>> {
  const text = decodeTitles(await readBounded(path));
  return parseItemTitles(text, path);
}

/**
 * Parses the text of an item titles file; see {@link readItemTitles}.
 *
 * @throws DataError naming the file and line of a bad line.
 */
export function parseItemTitles(text: string, name: string): Map<string, string> {
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new DataError(`${name}: empty file, expected lines of item id and title`);
  const layout = layoutOf(lines[first]);
  const split = layout === ',' ? (line: string) => splitCsvLine(line, ',') : (line: string) => line.split(layout);
  const titles = new Map<string, string>();
  const lineOf = new Map<string, number>();
  for (let at = first; at < lines.length; at++) {
    if (lines[at].trim() === '') continue;
    const lineNo = at + 1;
    const fields = split(lines[at]);
    if (fields.length < 2) {
      throw new DataError(`${name} line ${lineNo}: expected at least 2 fields (id, title) separated by '${layout}', got ${fields.length}`);
    }
    const id = fields[0].trim();
    const title = fields[1].trim();
    if (at === first && title.toLowerCase() === 'title') continue;
    if (id === '') throw new DataError(`${name} line ${lineNo} field 'id': empty id`);
    const earlier = lineOf.get(id);
    if (earlier !== undefined) throw new DataError(`${name} line ${lineNo}: item id '${shown(id)}' already has a title, on line ${earlier}`);
    titles.set(id, title);
    lineOf.set(id, lineNo);
  }
  if (titles.size === 0) throw new DataError(`${name}: no item titles after the header`);
  return titles;
}

/** The separator that ends the line's first field; ',' when none does (the row is then refused with its field count). */
function layoutOf(line: string): TitlesLayout {
  const candidates: TitlesLayout[] = ['::', '|', ','];
  let best: TitlesLayout = ',';
  let bestAt = Infinity;
  for (const c of candidates) {
    const at = line.indexOf(c);
    if (at >= 0 && at < bestAt) { best = c; bestAt = at; }
  }
  return best;
}

/** UTF-8 when the bytes are valid UTF-8, else latin1 (every byte is a latin1 character). */
function decodeTitles(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    // Not UTF-8 (TextDecoder throws only for invalid bytes here): MovieLens 100K is ISO-8859-1.
    if (!(err instanceof TypeError)) throw err;
    return bytes.toString('latin1');
  }
}

/** Reads a file whole after checking its size, with errors that name it. */
async function readBounded(path: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`data file not found: ${path}`, { cause: err });
    throw new DataError(`cannot read data file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new DataError(`data path is a folder, not a file: ${path}`);
    if (info.size > MAX_TITLES_BYTES) {
      throw new DataError(`${path}: ${info.size} bytes; an item titles file may have at most ${MAX_TITLES_BYTES} (64 MiB)`);
    }
    return await handle.readFile();
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`cannot read data file ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle.close();
  }
}

function shown(field: string): string {
  return field.length > 40 ? `${field.slice(0, 40)}…` : field;
}
