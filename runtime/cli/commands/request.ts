import { hostname } from 'node:os';
import { EdgeError, ERROR_DEFS, EX_SOFTWARE, isErrorCode } from '../../errors.js';
import { MAX_PAYLOAD_BYTES_CEILING } from '../../config/limits.js';
import { brokerUrlProblem } from '../../config/service-config.js';
import { sendRequest } from '../../transport/client.js';
import { defaultPrefix } from '../../transport/topics.js';
import type { Command } from '../command.js';
import { readInputText } from '../input.js';
import { IMAGE_OPTION, imageRequestBody } from '../image-input.js';
import { positiveInt, onePositional, str } from '../values.js';

export const command: Command = {
  name: 'request',
  summary: 'send one inference request over MQTT and print the answer (a client for newcomers and scripts)',
  usage: '<model> --input <file|-> | --image <file.jpg|png> [--broker URL] [--device-id ID] [--prefix P] [--timeout-ms N] [--mqtt 4|5] [--username U] [--json]',
  examples: ['edge-infer request digits --input models/digits/eval/sample-3.json', 'edge-infer request digits --input sample.json --broker mqtt://pi.local:1883 --device-id kitchen --timeout-ms 3000'],
  options: {
    input: { type: 'string', short: 'i', help: 'request JSON ({"id","input":[...]} / {"id","inputs":{...}}), a bare array, or - for stdin' },
    image: IMAGE_OPTION,
    broker: { type: 'string', help: 'broker URL (default mqtt://localhost:1883)' },
    'device-id': { type: 'string', help: "the service's device id (default: this host name)" },
    prefix: { type: 'string', help: 'topic prefix (default edge/<device-id>)' },
    'timeout-ms': { type: 'string', help: 'how long to wait for the answer (default 10000)' },
    mqtt: { type: 'string', help: 'protocol version: 5 (response topic + correlation data) or 4 (replyTo in the body); default 5' },
    username: { type: 'string', help: 'broker user; the password comes from EDGE_INFER_MQTT_PASSWORD' },
  },
  async run(ctx) {
    const model = onePositional(ctx.positionals, '<model>');
    const inputRef = str(ctx.values, 'input');
    const imageRef = str(ctx.values, 'image');
    if (inputRef === undefined && imageRef === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'missing --input <file|-> or --image <file>');
    // The service's own limit is not known here (its config may raise it); the schema's ceiling bounds what is read.
    const text = imageRef !== undefined ? JSON.stringify(await imageRequestBody(imageRef, inputRef !== undefined)) : await readInputText(inputRef ?? '-', MAX_PAYLOAD_BYTES_CEILING);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // The same code `infer` and the service give the same bytes (issue 13, defect 9).
      throw new EdgeError('EDGE_ERR_BAD_JSON', `--input ${inputRef} is not JSON`, { details: { file: inputRef } });
    }
    const body: Record<string, unknown> = Array.isArray(doc) ? { input: doc } : doc !== null && typeof doc === 'object' ? { ...(doc as Record<string, unknown>) } : {};
    if (!['input', 'inputs', 'text', 'texts', 'image'].some((k) => k in body)) throw new EdgeError('EDGE_ERR_BAD_REQUEST', `--input ${inputRef} must hold an array, or an object with "input", "inputs", "text", "texts" or "image"`, { details: { file: inputRef } });
    const url = str(ctx.values, 'broker') ?? 'mqtt://localhost:1883';
    // `mqtt://` alone would connect to localhost: a broker URL needs a host (the check `run` applies).
    const urlProblem = brokerUrlProblem(url);
    if (urlProblem !== undefined) throw new EdgeError('EDGE_ERR_USAGE', `--broker "${url}" ${urlProblem}; give mqtt://host[:port] or mqtts://host[:port]`, { details: { flag: '--broker' } });
    const v = str(ctx.values, 'mqtt') ?? '5';
    if (v !== '4' && v !== '5') throw new EdgeError('EDGE_ERR_USAGE', `--mqtt must be 4 or 5 (got "${v}")`);
    const password = process.env['EDGE_INFER_MQTT_PASSWORD'];
    const username = str(ctx.values, 'username');
    const send = (protocolVersion: 4 | 5) =>
      sendRequest({ url, prefix: str(ctx.values, 'prefix') ?? defaultPrefix(str(ctx.values, 'device-id') ?? hostname()), model, body, timeoutMs: positiveInt(ctx.values, 'timeout-ms', 10_000), protocolVersion, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) });
    let answer;
    try {
      answer = await send(v === '4' ? 4 : 5);
    } catch (e) {
      // The embedded broker (aedes) speaks MQTT 3.1.1 only: without an explicit --mqtt, fall back to it.
      if (str(ctx.values, 'mqtt') !== undefined || !(e instanceof EdgeError) || !/protocol version/i.test(e.message)) throw e;
      answer = await send(4);
    }
    if (answer.kind === 'binary') {
      ctx.out(JSON.stringify({ binary: true, bytes: answer.payload.length, userProperties: answer.userProperties }));
      return 0;
    }
    if (answer.kind === 'error') {
      // An error answer exits with its code's status (64 bad request, 69 overloaded...), as the README's
      // table says, and names the code on stderr like every other error.
      const code = answer.body.error.code;
      ctx.out(JSON.stringify(answer.body, null, ctx.json ? 2 : 0));
      process.stderr.write(`edge-infer: ${code}: ${answer.body.error.message} (answer from the service)\n  hint: ${answer.body.error.hint}\n`);
      return isErrorCode(code) ? ERROR_DEFS[code].exit : EX_SOFTWARE;
    }
    if (ctx.json) {
      ctx.out(JSON.stringify(answer.body, null, 2));
      return 0;
    }
    const b = answer.body;
    const best = b.top?.[0];
    if (best) ctx.out(`${model}: ${best.label} (p=${best.score.toFixed(3)})  top: ${(b.top ?? []).map((c) => `${c.label}=${c.score.toFixed(3)}`).join(' ')}`);
    else ctx.out(JSON.stringify(b.outputs));
    ctx.out(`variant ${b.variant}  queue ${b.latencyMs.queue} ms  inference ${b.latencyMs.inference} ms  total ${b.latencyMs.total} ms`);
    return 0;
  },
};
