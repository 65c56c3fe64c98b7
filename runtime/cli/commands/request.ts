import { hostname } from 'node:os';
import { EdgeError } from '../../errors.js';
import { sendRequest } from '../../transport/client.js';
import { defaultPrefix } from '../../transport/topics.js';
import type { Command } from '../command.js';
import { readInputText } from '../input.js';
import { IMAGE_OPTION, imageRequestBody } from '../image-input.js';
import { positiveInt, onePositional, str } from '../values.js';

export const command: Command = {
  name: 'request',
  summary: 'send one inference request over MQTT and print the answer (a client for newcomers and scripts)',
  usage: '<model> --input <file|-> | --image <file.jpg|png> [--broker URL] [--device-id ID] [--prefix P] [--timeout-ms N] [--mqtt 4|5]',
  options: {
    input: { type: 'string', short: 'i', help: 'request JSON ({"id","input":[...]} / {"id","inputs":{...}}), a bare array, or - for stdin' },
    image: IMAGE_OPTION,
    broker: { type: 'string', help: 'broker URL (default mqtt://localhost:1883)' },
    'device-id': { type: 'string', help: 'the service\'s device id (default: this host name)' },
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
    const text = imageRef !== undefined ? JSON.stringify(await imageRequestBody(imageRef, inputRef !== undefined)) : await readInputText(inputRef ?? '-');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new EdgeError('EDGE_ERR_INPUT_FILE', `--input ${inputRef} is not JSON`);
    }
    const body: Record<string, unknown> = Array.isArray(doc) ? { input: doc } : (doc !== null && typeof doc === 'object' ? { ...(doc as Record<string, unknown>) } : {});
    if (!['input', 'inputs', 'text', 'texts', 'image'].some((k) => k in body)) throw new EdgeError('EDGE_ERR_INPUT_FILE', '--input must hold an array, or an object with "input", "inputs", "text" or "texts"');
    const v = str(ctx.values, 'mqtt') ?? '5';
    if (v !== '4' && v !== '5') throw new EdgeError('EDGE_ERR_USAGE', `--mqtt must be 4 or 5 (got "${v}")`);
    const password = process.env['EDGE_INFER_MQTT_PASSWORD'];
    const username = str(ctx.values, 'username');
    const send = (protocolVersion: 4 | 5) => sendRequest({
      url: str(ctx.values, 'broker') ?? 'mqtt://localhost:1883',
      prefix: str(ctx.values, 'prefix') ?? defaultPrefix(str(ctx.values, 'device-id') ?? hostname()),
      model,
      body,
      timeoutMs: positiveInt(ctx.values, 'timeout-ms', 10_000),
      protocolVersion,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    });
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
    if (ctx.json || answer.kind === 'error') {
      ctx.out(JSON.stringify(answer.body, null, ctx.json ? 2 : 0));
      return answer.kind === 'error' ? 1 : 0;
    }
    const b = answer.body;
    const best = b.top?.[0];
    if (best) ctx.out(`${model}: ${best.label} (p=${best.score.toFixed(3)})  top: ${(b.top ?? []).map((c) => `${c.label}=${c.score.toFixed(3)}`).join(' ')}`);
    else ctx.out(JSON.stringify(b.outputs));
    ctx.out(`variant ${b.variant}  queue ${b.latencyMs.queue} ms  inference ${b.latencyMs.inference} ms  total ${b.latencyMs.total} ms`);
    return 0;
  },
};
