import t from 'tap';
import { loadErrorCode } from '../../../runtime/backend/ort-errors.js';

// Messages as onnxruntime-node / onnxruntime-web 1.30 print them.
t.test('protobuf and graph failures from either build are EDGE_ERR_MODEL_INVALID', async (t) => {
  for (const m of [
    'Failed to load model because protobuf parsing failed.',
    "Can't create a session. ERROR_CODE: 7, ERROR_MESSAGE: Failed to load model because protobuf parsing failed.",
    'Model data pointer is null.',
    'Load model from x.onnx failed:This is an invalid model. In Node, ("", NoSuchOp, "", -1) : Error No Op registered for NoSuchOp with domain_version of 13',
    "Can't create a session. ERROR_CODE: 6, ERROR_MESSAGE: No Op registered for NoSuchOp with domain_version of 13",
  ])
    t.equal(loadErrorCode(m), 'EDGE_ERR_MODEL_INVALID', m);
});

t.test('other load failures are EDGE_ERR_LOAD_FAILED', async (t) => {
  t.equal(loadErrorCode('std::bad_alloc'), 'EDGE_ERR_LOAD_FAILED');
  t.equal(loadErrorCode("Load model /x.onnx failed. File doesn't exist"), 'EDGE_ERR_LOAD_FAILED');
});
