import { mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_TITLES_BYTES, readItemTitles } from '../../../shared/data/item-titles';
import { DataError } from '../../../shared/errors';
import { SHARED_DATA, requireFile } from '../../harness/paths';

const dir = mkdtempSync(join(tmpdir(), 'tfleet-titles-'));
const file = (name: string, content: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

describe('item titles reader', () => {
  it('reads a u.item file (pipe separated), decoding latin1 when the bytes are not UTF-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from('1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|0|1|1\n', 'latin1'),
      Buffer.from('543|Mis', 'latin1'), Buffer.from([0xe9]), Buffer.from('rables, Les (1995)|01-Jan-1995||http://x|0|0\n', 'latin1'),
    ]);
    const titles = await readItemTitles(file('u.item', bytes));
    expect(titles).toEqual(new Map([['1', 'Toy Story (1995)'], ['543', 'Misérables, Les (1995)']]));
  });

  it('reads UTF-8 as UTF-8', async () => {
    const titles = await readItemTitles(file('utf8.item', '543|Misérables, Les (1995)|01-Jan-1995\n'));
    expect(titles.get('543')).toBe('Misérables, Les (1995)');
  });

  it('reads movies.csv: skips the header and honours quotes, commas and doubled quotes in titles', async () => {
    const titles = await readItemTitles(file('movies.csv', [
      'movieId,title,genres',
      '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy',
      '11,"American President, The (1995)",Comedy|Drama|Romance',
      '2,"Jumanji ""the game"" (1995)",Adventure',
      '',
    ].join('\r\n')));
    expect(titles).toEqual(new Map([
      ['1', 'Toy Story (1995)'],
      ['11', 'American President, The (1995)'],
      ['2', 'Jumanji "the game" (1995)'],
    ]));
  });

  it("reads movies.dat ('::' separated, pipes in the genres)", async () => {
    const titles = await readItemTitles(file('movies.dat', "1::Toy Story (1995)::Animation|Children's|Comedy\n\n2::Jumanji (1995)::Adventure\n"));
    expect(titles).toEqual(new Map([['1', 'Toy Story (1995)'], ['2', 'Jumanji (1995)']]));
  });

  const bad: Array<[string, string, string]> = [
    ['a line with one field', '1|Toy Story (1995)|x\n\n3\n', " line 3: expected at least 2 fields (id, title) separated by '|', got 1"],
    ['an empty id', '1::A::x\n::B::y\n', " line 2 field 'id': empty id"],
    ['an id given twice', 'movieId,title\n7,A\n8,B\n7,C\n', " line 4: item id '7' already has a title, on line 2"],
    ['an empty file', '\n\n', ': empty file, expected lines of item id and title'],
    ['a header alone', 'movieId,title,genres\n', ': no item titles after the header'],
  ];
  it.each(bad)('refuses %s, naming the file and line', async (what, text, message) => {
    const path = file(`bad-${what.replace(/\W+/g, '-')}.txt`, text);
    const failure = readItemTitles(path);
    await expect(failure).rejects.toThrow(DataError);
    await expect(failure).rejects.toThrow(path + message);
  });

  it('refuses a file over 64 MiB before reading it', async () => {
    const path = join(dir, 'huge.item');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, MAX_TITLES_BYTES + 1); // sparse: no 64 MiB written
    closeSync(fd);
    await expect(readItemTitles(path)).rejects.toThrow(`${path}: ${MAX_TITLES_BYTES + 1} bytes; an item titles file may have at most ${MAX_TITLES_BYTES} (64 MiB)`);
  });

  it('names a missing file and a folder', async () => {
    await expect(readItemTitles(join(dir, 'absent.item'))).rejects.toThrow(`data file not found: ${join(dir, 'absent.item')}`);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    await expect(readItemTitles(folder)).rejects.toThrow(`data path is a folder, not a file: ${folder}`);
  });

  it('reads the MovieLens 100K u.item: 1,682 titles, latin1 accents decoded', async () => {
    const titles = await readItemTitles(requireFile(join(SHARED_DATA, 'ml-100k', 'u.item')));
    expect(titles.size).toBe(1682);
    expect(titles.get('1')).toBe('Toy Story (1995)');
    expect(titles.get('543')).toBe('Misérables, Les (1995)');
    expect(titles.get('1682')).toBe('Scream of Stone (Schrei aus Stein) (1991)');
  });
});
