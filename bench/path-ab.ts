/**
 * Issue 16's MQTT figures alone (sections 2 nodelay, 2b, 3, 3c of `npm run bench --quick`), printed
 * as one JSON line: for A/B runs of two builds taken in turns on a busy machine, so a shift in the
 * machine's load falls on both. `node dist/bench/path-ab.js`
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMqttSections } from './mqtt-sections.js';
import { ROOT } from './service.js';

const digitRow = (JSON.parse(readFileSync(join(ROOT, 'models/digits/eval/eval.json'), 'utf8')) as { inputs: number[][] }).inputs[0] ?? [];
const tmp = mkdtempSync(join(tmpdir(), 'edge-path-ab-'));
try {
  const load0 = loadavg()[0];
  const m = await runMqttSections({ quick: true, tmp, digitRow, nagle: false });
  await m.closeBroker();
  const seq = m.latency[0]?.sequential;
  console.log(
    `RESULT ${JSON.stringify({ root: ROOT, load: [load0, loadavg()[0]], seq, burst: m.burst, saturation: m.saturation.map((s) => ({ batching: s.batching, form: s.form, window: s.window, answersPerS: Math.round(s.answersPerS), loopMaxMs: s.eventLoopMaxMs, gcMaxMs: s.gcMaxMs, heapBPerRequest: Math.round(s.heapBPerRequest), externalBPerRequest: Math.round(s.externalBPerRequest) })) })}`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
