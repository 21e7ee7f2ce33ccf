import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSource } from '../../../shared/config/job-spec';
import { parseCsv, parseJsonl, readTable, rowOrigin, selectRows } from '../../../shared/data';
import { readCsvRecords } from '../../../shared/data/csv';
import { DataError } from '../../../shared/errors';
import { ROOT, SHARED_DATA, requireFile } from '../../harness/paths';

const csv = (extra: Partial<FileSource> = {}): FileSource => ({ format: 'csv', path: 't.csv', label: 'y', delimiter: ',', ...extra });
const jsonl = (extra: Partial<FileSource> = {}): FileSource => ({ format: 'jsonl', path: 'r.jsonl', label: 'y', pad: 0, ...extra });
const yelpSource = (path: string): FileSource => ({ format: 'csv', path, delimiter: '\t', header: false, columns: ['text', 'label'], text: 'text', label: 'label' });

/** The DataError message a parse throws, or a failure when it does not throw one. */
function failure(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(DataError);
    return (err as Error).message;
  }
  throw new Error('expected a DataError, none was thrown');
}

describe('CSV records (RFC 4180)', () => {
  it('reads a quoted field with the delimiter, doubled quotes and a line break, and numbers each record by its first line', () => {
    const text = 'id,review,y\r\n1,"Good, ""really"" good\nsecond line",1\n2,"",0\n3,said "hi" twice,1\n';
    expect(readCsvRecords(text, ',', 't.csv')).toEqual([
      { cells: ['id', 'review', 'y'], line: 1 },
      { cells: ['1', 'Good, "really" good\nsecond line', '1'], line: 2 },
      { cells: ['2', '', '0'], line: 4 },
      // A quote inside an unquoted field is an ordinary character.
      { cells: ['3', 'said "hi" twice', '1'], line: 5 },
    ]);
    expect(readCsvRecords('a,"b ""x"""\r\n"c\r\nd",e\r\n', ',', 't.csv')).toEqual([{ cells: ['a', 'b "x"'], line: 1 }, { cells: ['c\r\nd', 'e'], line: 2 }]);
    expect(readCsvRecords('"ab"cd"e,f', ',', 't.csv')).toEqual([{ cells: ['abcd"e', 'f'], line: 1 }]);
    // A final line break ends the last record; a blank line is a record of one empty cell.
    expect(readCsvRecords('a\n\nb', ',', 't.csv')).toEqual([{ cells: ['a'], line: 1 }, { cells: [''], line: 2 }, { cells: ['b'], line: 3 }]);
  });

  it('names the file line of a bad cell after a quoted field that spans lines', () => {
    const text = 'id,review,y\n1,"two\nlines",0\n2,"three\nmore\nlines",1\nn/a,ok,0\n';
    expect(failure(() => parseCsv(text, csv({ text: 'review' })))).toBe("t.csv line 7 column 'id': not a number: 'n/a'");
    const short = 'id,review,y\n1,"a ""quoted""\nword",0\n2,b\n';
    expect(failure(() => parseCsv(short, csv({ text: 'review' })))).toBe('t.csv line 4: expected 3 cells as in the header, got 2');
  });

  it('reports a quoted field that is never closed, naming the line it opens on', () => {
    expect(failure(() => parseCsv('id,review,y\n1,ok,0\n2,"never\nclosed,1\n', csv({ text: 'review' }))))
      .toBe('t.csv line 3: a quoted field opened on this line is not closed by the end of the file');
  });

  it('keeps row lines while every row is one line, and numbers rows by position once one spans lines', () => {
    const flat = parseCsv('id,y\n1,0\n2,1\n', csv());
    expect(flat.firstRowLine).toBe(2);
    expect(rowOrigin(flat, 1)).toBe('line 3');
    const spanning = parseCsv('id,review,y\n1,"a\nb",0\n2,c,1\n', csv({ text: 'review' }));
    expect(spanning.firstRowLine).toBeNull();
    expect(rowOrigin(spanning, 1)).toBe('item 2');
  });
});

describe('CSV without a header row', () => {
  it('names the columns from the source and reads every line as a row', () => {
    const t = parseCsv('great food\t1\nslow, cold service\t0\n', csv({ delimiter: '\t', header: false, columns: ['text', 'label'], text: 'text', label: 'label' }));
    expect(t.rows).toBe(2);
    expect(t.firstRowLine).toBe(1);
    expect(t.texts).toEqual(['great food', 'slow, cold service']);
    expect([...t.y]).toEqual([1, 0]);
    expect(t.cols).toBe(0);
    expect(t.featureNames).toEqual([]);
    expect(t.labelNames).toBeUndefined();
  });

  it('reports a row with the wrong number of fields, naming the columns', () => {
    const source = csv({ delimiter: '\t', header: false, columns: ['text', 'label'], text: 'text', label: 'label' });
    expect(failure(() => parseCsv('ok\t1\ntab\tinside\t0\n', source))).toBe('t.csv line 2: expected 2 fields (text, label), got 3');
  });

  it('reports a label or text column that the columns do not name', () => {
    const source = csv({ header: false, columns: ['text', 'label'], text: 'text' });
    expect(failure(() => parseCsv('a,1\n', source))).toBe("t.csv: label column 'y' not found (columns: text, label, as 'columns' names them)");
    expect(failure(() => parseCsv('a,1\n', { ...source, label: 'label', text: 'body' }))).toBe("t.csv: text column 'body' not found (columns: text, label, as 'columns' names them)");
  });
});

describe('CSV text columns', () => {
  const text = 'id,review,length,y\n1,"Great, and fast",3,0\n2,,0,1\n3,meh,1,0\n';

  it('keeps the text column as strings beside the numeric features', () => {
    const t = parseCsv(text, csv({ text: 'review' }));
    expect(t.featureNames).toEqual(['id', 'length']);
    expect([...t.x]).toEqual([1, 3, 2, 0, 3, 1]);
    expect(t.texts).toEqual(['Great, and fast', '', 'meh']);
    expect(t.sampleShape).toEqual([2]);
  });

  it('takes only the features named', () => {
    const t = parseCsv(text, csv({ text: 'review', features: ['length'] }));
    expect(t.featureNames).toEqual(['length']);
    expect([...t.x]).toEqual([3, 0, 1]);
  });

  it('reports a text column absent from the header, and the text named as a feature', () => {
    expect(failure(() => parseCsv(text, csv({ text: 'body' })))).toBe("t.csv line 1: text column 'body' not found (4 columns: id, review, length, y)");
    expect(failure(() => parseCsv(text, csv({ text: 'review', features: ['review'] })))).toBe("t.csv line 1: column 'review' is the text and cannot also be a feature");
  });

  it('keeps texts and label names through a row selection', () => {
    const t = parseCsv('review,y\na,pos\nb,neg\nc,pos\n', csv({ text: 'review' }));
    const picked = selectRows(t, [2, 1]);
    expect(picked.texts).toEqual(['c', 'b']);
    expect(picked.labelNames).toEqual(['pos', 'neg']);
    expect([...picked.y]).toEqual([0, 1]);
  });
});

describe('CSV string labels', () => {
  it('numbers the names in order of first appearance', () => {
    const t = parseCsv('a,y\n1,spam\n2, ham\n3,spam\n4,eggs\n', csv());
    expect(t.labelNames).toEqual(['spam', 'ham', 'eggs']);
    expect([...t.y]).toEqual([0, 1, 0, 2]);
  });

  it('reads every label as a name when any one is not a number', () => {
    const t = parseCsv('a,y\n1,1\n2,2\n3,many\n', csv());
    expect(t.labelNames).toEqual(['1', '2', 'many']);
    expect([...t.y]).toEqual([0, 1, 2]);
  });

  it('keeps numeric labels numeric', () => {
    const t = parseCsv('a,y\n1,2.5\n2,-1\n', csv());
    expect(t.labelNames).toBeUndefined();
    expect([...t.y]).toEqual([2.5, -1]);
  });

  it('reports an empty label cell with its line', () => {
    expect(failure(() => parseCsv('a,y\n1,cat\n2,\n', csv()))).toBe("t.csv line 3 column 'y': empty label (the labels are class names)");
    expect(failure(() => parseCsv('a,y\n1,0\n2, \n', csv()))).toBe("t.csv line 3 column 'y': not a number: ''");
  });
});

describe('JSONL text', () => {
  it('reads a text field and string labels, without numeric features', () => {
    const t = parseJsonl('{"review":"Great pizza","y":"pos"}\n{"review":"","y":"neg"}\n{"review":"ok","y":"pos"}\n', jsonl({ text: 'review' }));
    expect(t.texts).toEqual(['Great pizza', '', 'ok']);
    expect(t.labelNames).toEqual(['pos', 'neg']);
    expect([...t.y]).toEqual([0, 1, 0]);
    expect(t.cols).toBe(0);
    expect(t.sampleShape).toEqual([0]);
  });

  it('reads a text field beside numeric features, with numeric labels', () => {
    const t = parseJsonl('{"review":"a","stars":4,"y":1}\n{"review":"b","stars":2,"y":0}\n', jsonl({ text: 'review', features: ['stars'] }));
    expect(t.texts).toEqual(['a', 'b']);
    expect([...t.x]).toEqual([4, 2]);
    expect([...t.y]).toEqual([1, 0]);
    expect(t.labelNames).toBeUndefined();
  });

  const bad: Array<[string, string, string]> = [
    ['a row without the text field', '{"review":"a","y":0}\n{"y":1}\n', "r.jsonl line 2: no field 'review'"],
    ['a text that is not a string', '{"review":5,"y":0}\n', "r.jsonl line 1 field 'review': expected a string, got 5"],
    ['a null text', '{"review":null,"y":0}\n', "r.jsonl line 1 field 'review': expected a string, got null"],
    ['a line that is not JSON', '{"review":"a","y":0}\n{"review": "b\n', 'r.jsonl line 2: not valid JSON'],
    ['a number label after string labels', '{"review":"a","y":"pos"}\n{"review":"b","y":"neg"}\n{"review":"c","y":1}\n', "r.jsonl line 3 field 'y': expected a string (a class name) as on line 1, got 1; labels must be all numbers or all strings"],
    ['a string label after number labels', '{"review":"a","y":0}\n{"review":"b","y":"neg"}\n', "r.jsonl line 2 field 'y': expected a number as on line 1, got \"neg\"; labels must be all numbers or all strings"],
    ['an empty string label', '{"review":"a","y":""}\n', "r.jsonl line 1 field 'y': empty label"],
    ['a missing label', '{"review":"a"}\n', "r.jsonl line 1 field 'y': expected a number or a string (a class name), got nothing"],
  ];
  it.each(bad)('rejects %s naming the line and field', (_what, text, message) => {
    expect(failure(() => parseJsonl(text, jsonl({ text: 'review' })))).toContain(message);
  });
});

describe('the Yelp sentiment sentences', () => {
  it('read as tab-separated text and a 0/1 label: 1000 rows, 500 per label', async () => {
    const t = await readTable(yelpSource(requireFile(join(SHARED_DATA, 'sentiment', 'yelp_labelled.txt'))));
    expect(t.rows).toBe(1000);
    expect(t.texts).toHaveLength(1000);
    expect(t.cols).toBe(0);
    expect(t.firstRowLine).toBe(1);
    expect([...t.y].filter((v) => v === 1)).toHaveLength(500);
    expect([...t.y].filter((v) => v === 0)).toHaveLength(500);
    expect(t.texts![0]).toBe('Wow... Loved this place.');
    // Quotes inside the sentences are text, not CSV quoting (line 765 has a single one).
    expect(t.texts![228]).toBe('As for the "mains," also uninspired.');
    expect(t.texts![764]).toBe('I\'m so happy to be here!!!"');
  });

  it('ship in examples/data unchanged', async () => {
    const shipped = await readTable(yelpSource(requireFile(join(ROOT, 'examples', 'data', 'yelp_labelled.txt'))));
    const original = await readTable(yelpSource(requireFile(join(SHARED_DATA, 'sentiment', 'yelp_labelled.txt'))));
    expect(shipped.texts).toEqual(original.texts);
    expect([...shipped.y]).toEqual([...original.y]);
  });
});
