import t from 'tap';
import { findJsonSyntaxError, parseJsonText } from '../../../runtime/config/json-file.js';
import { EdgeError } from '../../../runtime/errors.js';

t.test('finds the line and column of the first syntax error', async (t) => {
  const cases: Array<[string, number, number]> = [
    ['{"a": }', 1, 7],
    ['{"a": 1,\n "b": tru}', 2, 10],
    ['{"a": 1', 1, 8],
    ['', 1, 1],
    ['[1, 2,]', 1, 7],
    ['{"a": 01}', 1, 8],
    ['{"a": "x\ny"}', 1, 9],
    ['{} x', 1, 4],
    ["{'a': 1}", 1, 2],
  ];
  for (const [text, line, column] of cases) {
    t.throws(() => JSON.parse(text), SyntaxError, `${JSON.stringify(text)} is invalid`);
    t.match(findJsonSyntaxError(text), { line, column }, JSON.stringify(text));
  }
});

t.test('agrees with JSON.parse on valid documents', async (t) => {
  for (const text of ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]} ', '"s"', '0', '{"a":{"b":{"c":[{}]}}}']) {
    JSON.parse(text);
    t.equal(findJsonSyntaxError(text), undefined, text);
  }
});

t.test('a parse failure becomes the given code with file, line and column', async (t) => {
  try {
    parseJsonText('{\n  "x": ,\n}', 'conf.json', 'EDGE_ERR_CONFIG_INVALID');
    t.fail('did not throw');
  } catch (e) {
    t.ok(e instanceof EdgeError);
    t.equal((e as EdgeError).code, 'EDGE_ERR_CONFIG_INVALID');
    t.same((e as EdgeError).details, { file: 'conf.json', line: 2, column: 8, position: 9 });
  }
  t.same(parseJsonText('\ufeff{"a":1}', 'bom.json', 'EDGE_ERR_CONFIG_INVALID'), { a: 1 }, 'a UTF-8 BOM is accepted');
});
