/**
 * Worker thread of the media pool: decodes and preprocesses one image per message, so the service's
 * main thread never holds a decode (issue 11). Messages: MediaJob in, MediaReply out (protocol in
 * media-pool.ts). The result tensor's buffer is transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { asEdgeError } from '../errors.js';
import { decodeImage } from './image-decode.js';
import { preprocessImage } from './image-preprocess.js';
import type { MediaJob, MediaReply } from './media-protocol.js';

const port = parentPort;
if (port === null) throw new Error('media-worker must run in a worker thread');

port.on('message', async (job: MediaJob) => {
  let reply: MediaReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const img = await decodeImage(job.bytes, job.maxPixels);
    const tensor = preprocessImage(img, job.spec);
    reply = { seq: job.seq, ok: true, tensor, source: { width: img.width, height: img.height, format: img.format } };
    transfer.push(tensor.data.buffer as ArrayBuffer);
  } catch (e) {
    const err = asEdgeError(e);
    reply = { seq: job.seq, ok: false, code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  port.postMessage(reply, transfer);
});
