import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createPreprocessor, splitTokens, textTokensPreprocessor, type TextTokensSpec } from '../runtime/preprocess/index.js';
import { loadManifest } from '../runtime/repository/manifest.js';
import type { LoadedManifest } from '../runtime/repository/types.js';

const SPEC: TextTokensSpec = { kind: 'text-tokens', vocab: 'vocab.txt', lowercase: 'ascii', punctuation: '!$%', maxLength: 4, input: 'ids', padId: 0, unkId: 1 };

t.test('tokens are ASCII letter/digit runs, lowercased A-Z only, with listed punctuation as single tokens', async (t) => {
  t.same(splitTokens('WIN $1000 now!!', 'ascii', '!$%'), ['win', '$', '1000', 'now', '!', '!']);
  t.same(splitTokens('Ünïcode CAFÉ re:hello_world', 'ascii', '!$%'), ['n', 'code', 'caf', 're', 'hello', 'world'], 'non-ASCII letters separate tokens');
  t.same(splitTokens('Keep Case?', 'none', ''), ['Keep', 'Case']);
  t.same(splitTokens('', 'ascii', '!'), []);
  t.same(splitTokens('😀!a', 'ascii', '!'), ['!', 'a'], 'a surrogate pair is a separator');
});

t.test('ids are vocab indexes, unknown tokens get unkId, rows are cut or padded to maxLength', async (t) => {
  const pre = textTokensPreprocessor(SPEC, ['<pad>', '<unk>', 'free', '!', 'money'], 'int64');
  const out = pre(['FREE money!', 'free free free free free', '', 'zzz']);
  const ids = out['ids'];
  t.equal(ids?.dtype, 'int64');
  t.same(ids?.dims, [4, 4]);
  t.same(Array.from(ids?.data as BigInt64Array, Number), [2, 4, 3, 0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0]);
  const i32 = textTokensPreprocessor(SPEC, ['<pad>', '<unk>'], 'int32')(['a'])['ids'];
  t.ok(i32?.data instanceof Int32Array);
});

t.test("the runtime tokenizer reproduces the recipe's token ids on every eval message of models/spam", async (t) => {
  const loaded = await loadManifest('models/spam/model.json');
  const pre = await createPreprocessor(loaded);
  if (pre === null) {
    t.fail('models/spam declares no preprocessing');
    return;
  }
  const texts = JSON.parse(await readFile('models/spam/eval/texts.json', 'utf8')) as { texts: string[]; ids: string[] };
  const evalSet = JSON.parse(await readFile('models/spam/eval/eval.json', 'utf8')) as { inputs: number[][]; ids: string[] };
  t.same(texts.ids, evalSet.ids, 'texts.json and eval.json list the same messages');
  t.equal(texts.texts.length, evalSet.inputs.length);
  const out = pre(texts.texts)['input_ids'];
  const L = evalSet.inputs[0]?.length ?? 0;
  t.same(out?.dims, [texts.texts.length, L]);
  const got = Array.from(out?.data as BigInt64Array, Number);
  let differing = 0;
  evalSet.inputs.forEach((row, i) => {
    if (row.some((v, j) => got[i * L + j] !== v)) differing++;
  });
  t.equal(differing, 0, `rows differing from the recipe's ids (of ${evalSet.inputs.length})`);
});

t.test('a model without "preprocess" gets no preprocessor', async (t) => {
  t.equal(await createPreprocessor(await loadManifest('models/digits/model.json')), null);
});

t.test('a bad vocab or a preprocess spec that does not fit the inputs is refused with a code', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'edge-pre-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const outside = await mkdtemp(path.join(tmpdir(), 'edge-pre-out-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  await writeFile(path.join(outside, 'v.txt'), '<pad>\n<unk>\n');
  await symlink(path.join(outside, 'v.txt'), path.join(dir, 'link.txt'));
  await writeFile(path.join(dir, 'good.txt'), '<pad>\n<unk>\na\n');
  await writeFile(path.join(dir, 'blank-line.txt'), '<pad>\n\n<unk>\n');
  await writeFile(path.join(dir, 'crlf.txt'), '<pad>\r\n<unk>\r\n');
  await writeFile(path.join(dir, 'empty.txt'), '');
  const loaded = (pre: Partial<TextTokensSpec>, dtype: 'int64' | 'float32' = 'int64', shape: (number | string)[] = ['batch', 4]): LoadedManifest => ({
    dir,
    file: path.join(dir, 'model.json'),
    manifest: { id: 'm', task: 'classification', reference: 'a', variants: [], inputs: [{ name: 'ids', dtype, shape }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }], preprocess: { ...SPEC, vocab: 'good.txt', ...pre } },
  });
  const code = async (l: LoadedManifest): Promise<string> => {
    try {
      await createPreprocessor(l);
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code ?? 'none';
    }
  };
  t.equal(await code(loaded({})), 'ok');
  t.equal(await code(loaded({ vocab: '../v.txt' })), 'EDGE_ERR_PATH_ESCAPE');
  t.equal(await code(loaded({ vocab: 'link.txt' })), 'EDGE_ERR_PATH_ESCAPE', 'a symlink out of the folder');
  t.equal(await code(loaded({ vocab: 'missing.txt' })), 'EDGE_ERR_FILE_MISSING');
  t.equal(await code(loaded({ vocab: 'blank-line.txt' })), 'EDGE_ERR_MANIFEST_INVALID');
  t.equal(await code(loaded({ vocab: 'crlf.txt' })), 'EDGE_ERR_MANIFEST_INVALID');
  t.equal(await code(loaded({ vocab: 'empty.txt' })), 'EDGE_ERR_MANIFEST_INVALID');
  t.equal(await code(loaded({ unkId: 3 })), 'EDGE_ERR_MANIFEST_INVALID', 'unkId past the vocab');
  t.equal(await code(loaded({ input: 'other' })), 'EDGE_ERR_MANIFEST_INVALID', 'input not declared');
  t.equal(await code(loaded({}, 'float32')), 'EDGE_ERR_MANIFEST_INVALID', 'float input');
  t.equal(await code(loaded({}, 'int64', ['batch', 8])), 'EDGE_ERR_MANIFEST_INVALID', 'length differs from maxLength');
});
