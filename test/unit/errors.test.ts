import t from 'tap';
import { EdgeError, ERROR_DEFS, EX_CONFIG, asEdgeError, isErrorCode, toErrorPayload } from '../../runtime/errors.js';

t.test('config errors exit 78 so systemd does not restart-loop on them', async (t) => {
  for (const code of ['EDGE_ERR_PROFILE_INVALID', 'EDGE_ERR_CONFIG_INVALID', 'EDGE_ERR_MANIFEST_INVALID'] as const) {
    t.equal(new EdgeError(code, 'x').exitCode, EX_CONFIG, code);
  }
});

t.test('every code is EDGE_ERR_ prefixed and has a hint that says what to do', async (t) => {
  for (const [code, def] of Object.entries(ERROR_DEFS)) {
    t.match(code, /^EDGE_ERR_[A-Z_]+$/);
    t.ok(def.hint.length > 10, `${code} has a hint`);
  }
});

t.test('unknown throwables become EDGE_ERR_INTERNAL with the cause kept', async (t) => {
  const cause = new TypeError('boom');
  const e = asEdgeError(cause);
  t.equal(e.code, 'EDGE_ERR_INTERNAL');
  t.equal(e.cause, cause);
  t.equal(toErrorPayload('str').code, 'EDGE_ERR_INTERNAL');
  t.ok(isErrorCode('EDGE_ERR_OVERLOADED'));
  t.notOk(isErrorCode('EDGE_ERR_NOPE'));
});

t.test('payloads carry details only when given', async (t) => {
  t.same(Object.keys(toErrorPayload(new EdgeError('EDGE_ERR_TOO_LARGE', 'big'))), ['code', 'message', 'hint']);
  t.same(toErrorPayload(new EdgeError('EDGE_ERR_TOO_LARGE', 'big', { details: { bytes: 9 } })).details, { bytes: 9 });
});
