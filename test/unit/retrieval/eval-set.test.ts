import { describe, expect, it } from 'vitest';
import { EvalSetError, parseEvalSet } from '../../../src/retrieval/eval-set.js';

describe('an evaluation set', () => {
  it('is read line by line, blank lines skipped, tags optional', () => {
    const text = [
      '{"query": " which jacket has taped seams ", "expect": ["demo/product/FH-1001/1"], "tags": ["attribute"]}',
      '',
      '{"query": "return window", "expect": ["demo/cms_page/returns-and-refunds/1", "demo/cms_block/footer-notice/1"]}',
    ].join('\n');
    expect(parseEvalSet(text)).toEqual([
      { query: 'which jacket has taped seams', expect: ['demo/product/FH-1001/1'], tags: ['attribute'] },
      { query: 'return window', expect: ['demo/cms_page/returns-and-refunds/1', 'demo/cms_block/footer-notice/1'], tags: [] },
    ]);
  });

  it.each([
    ['{"query": "tent"', 'queries.jsonl line 2: not JSON'],
    ['["tent"]', 'line 2: expected an object'],
    ['{"query": "", "expect": ["a/product/1/1"]}', 'line 2: "query" must be a non-empty string'],
    ['{"query": "tent", "expect": []}', 'line 2: "expect" must be a non-empty list'],
    ['{"query": "tent", "expect": "a/product/1/1"}', 'line 2: "expect" must be a non-empty list'],
    ['{"query": "tent", "expect": ["a/product/1/1"], "tags": "typo"}', 'line 2: "tags" must be a list of strings'],
  ])('refuses %s, naming the line', (bad, message) => {
    const text = `{"query": "fine", "expect": ["a/product/1/1"]}\n${bad}`;
    expect(() => parseEvalSet(text, 'queries.jsonl')).toThrow(EvalSetError);
    expect(() => parseEvalSet(text, 'queries.jsonl')).toThrow(message);
  });

  it('refuses a file without queries', () => {
    expect(() => parseEvalSet('\n\n', 'empty.jsonl')).toThrow('empty.jsonl: no queries');
  });
});
