/**
 * Shared work (issue 15): three services in group "g1" on one mosquitto take requests from
 * edge/group/g1/models/digits/infer through a $share subscription; one is SIGKILLed mid-stream.
 * Every request must be answered by the others. The requester keeps a bounded window and re-sends
 * a request unanswered after `RESEND_MS` (at-least-once: answers carry the request id, duplicates
 * are counted, not errors): mosquitto gives a dead member's in-flight share to nobody until it
 * returns, and its clean session means it never returns.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copyDigits } from './helpers/digits-copy.js';
import { startMosquitto } from './helpers/mosquitto.js';
import { Watcher } from './helpers/mqtt-watch.js';
import { ROOT, startService, type ServiceProcess } from './helpers/service-process.js';

const sample = JSON.parse(readFileSync(path.join(ROOT, 'models', 'digits', 'eval', 'sample-3.json'), 'utf8')) as { input: number[] };
const TOTAL = 300;
const WINDOW = 16;
const RESEND_MS = 3000;

t.test('three members share one request stream; one SIGKILLed mid-stream loses nothing', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const root = mkdtempSync(path.join(tmpdir(), 'edge-group-'));
  const modelsDir = path.join(root, 'models');
  copyDigits(modelsDir);
  const members: ServiceProcess[] = [];
  for (const id of ['m1', 'm2', 'm3']) {
    const dir = mkdtempSync(path.join(tmpdir(), `edge-${id}-`));
    const svc = startService({ deviceId: id, broker: { url: broker.url }, modelsDir, group: 'g1', adaptive: { enabled: false }, commands: { enabled: false } }, [], dir);
    t.teardown(() => {
      svc.child.kill('SIGKILL');
    });
    members.push(svc);
  }
  for (const m of members) await m.waitLog('group.joined', 60_000);
  for (const m of members) await m.waitLog('"layer":"group"', 20_000);

  const w = await Watcher.open(broker.url, ['app/replies']);
  t.teardown(() => w.close());
  const answered = new Map<string, number>();
  const errors: unknown[] = [];
  w.client.on('message', (topic, payload) => {
    if (topic !== 'app/replies') return;
    const body = JSON.parse(payload.toString()) as { id: string; error?: unknown };
    if (body.error !== undefined) errors.push(body.error);
    answered.set(body.id, (answered.get(body.id) ?? 0) + 1);
  });
  const sentAt = new Map<string, number>();
  let resent = 0;
  const send = (id: string): void => {
    sentAt.set(id, Date.now());
    w.client.publish('edge/group/g1/models/digits/infer', JSON.stringify({ id, input: sample.input }), { qos: 1, properties: { responseTopic: 'app/replies' } });
  };
  let next = 0;
  let killed = false;
  const deadline = Date.now() + 120_000;
  while ([...Array(TOTAL).keys()].some((i) => !answered.has(`r${i}`))) {
    if (Date.now() > deadline) break;
    const open = [...sentAt.keys()].filter((id) => !answered.has(id));
    for (const id of open)
      if (Date.now() - (sentAt.get(id) ?? 0) > RESEND_MS) {
        resent++;
        send(id);
      }
    for (let inFlight = open.length; next < TOTAL && inFlight < WINDOW; inFlight++) send(`r${next++}`);
    if (!killed && next >= TOTAL / 3) {
      killed = true;
      members[1]?.child.kill('SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const missing = [...Array(TOTAL).keys()].map((i) => `r${i}`).filter((id) => !answered.has(id));
  t.same(missing, [], 'every request answered');
  t.same(errors, [], 'no error answers');
  const duplicates = [...answered.values()].reduce((s, c) => s + c - 1, 0);
  // Without the share every member would answer every request (3x): one answer each proves it.
  t.ok(duplicates <= resent, `at most one answer per send (${duplicates} duplicates, ${resent} re-sends)`);
  t.comment(`${TOTAL} requests, ${resent} re-sent after ${RESEND_MS} ms (the killed member's in-flight share), ${duplicates} duplicate answers`);
  t.ok(killed, 'one member was killed mid-stream');
  for (const m of [members[0], members[2]]) {
    m?.child.kill('SIGTERM');
    t.equal(await m?.exited, 0, 'the survivors stop cleanly');
  }
});
