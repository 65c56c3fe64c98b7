/**
 * `edge-infer deploy <model dir> --to <device id | group:<name>> --key <ed25519 private key PEM>`
 * (issue 15 OTA): builds a signed bundle of the model folder (fleet/bundle.ts) and sends it in
 * chunks over MQTT (transport/deploy-sender.ts); prints each device's steps and exits 0 when every
 * device committed it, else with the device's error code (EDGE_ERR_BUNDLE_SIGNATURE, ...).
 * `edge-infer deploy --gen-key <file>` writes a new key pair: <file> (private, 0600) and <file>.pub.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { EdgeError, isErrorCode } from '../../errors.js';
import { buildBundle, generateDeployKeys, privateKeyFromPem } from '../../fleet/bundle.js';
import { sendBundle } from '../../transport/deploy-sender.js';
import { defaultPrefix } from '../../transport/topics.js';
import type { Command } from '../command.js';
import { positiveInt, str } from '../values.js';

export const command: Command = {
  name: 'deploy',
  summary: 'send a signed model bundle to a device or group over MQTT; it installs, watches health, commits or rolls back',
  usage: '<model dir> --to <device id | group:<name>> --key <private key PEM> [--broker URL] [--username U] [--prefix P] [--expect N] [--chunk-kb 64] [--timeout-ms N] [--json] | --gen-key <file>',
  examples: ['edge-infer deploy --gen-key ops-key.pem', 'edge-infer deploy models/digits --to pi-kitchen --key ops-key.pem --broker mqtt://broker.local:1883', 'edge-infer deploy models/digits --to group:kitchen --expect 3 --key ops-key.pem'],
  options: {
    to: { type: 'string', help: 'a device id (topics edge/<id>/deploy/...) or group:<name> (edge/group/<name>/deploy/...)' },
    key: { type: 'string', help: 'ed25519 private key, PEM file (make one with --gen-key)' },
    'gen-key': { type: 'string', help: 'write a new ed25519 key pair to <file> and <file>.pub, then exit' },
    broker: { type: 'string', help: 'broker URL (default mqtt://localhost:1883)' },
    prefix: { type: 'string', help: "the device's topic prefix when it is not edge/<device id>" },
    expect: { type: 'string', help: 'with group:<name>, how many devices must answer (default 1)' },
    'chunk-kb': { type: 'string', help: "chunk size, KiB; keep it under the broker's message limit (default 64)" },
    'timeout-ms': { type: 'string', help: 'how long to wait for each step of the devices (default 120000)' },
    username: { type: 'string', help: 'broker user; the password comes from EDGE_INFER_MQTT_PASSWORD' },
  },
  async run(ctx) {
    const gen = str(ctx.values, 'gen-key');
    if (gen !== undefined) {
      const k = generateDeployKeys();
      await writeFile(gen, k.privatePem, { mode: 0o600, flag: 'wx' }).catch((e: unknown) => {
        throw new EdgeError('EDGE_ERR_USAGE', `cannot create ${gen} (it must not exist yet)`, { cause: e });
      });
      await writeFile(`${gen}.pub`, k.publicPem);
      ctx.out(ctx.json ? JSON.stringify({ privateKey: gen, publicKey: `${gen}.pub` }) : `wrote ${gen} (private, keep it secret) and ${gen}.pub (put it in the devices' deploy.trustedKeys)`);
      return 0;
    }
    const dir = ctx.positionals[0];
    if (dir === undefined || ctx.positionals.length > 1) throw new EdgeError('EDGE_ERR_USAGE', 'deploy needs one <model dir>');
    const to = str(ctx.values, 'to');
    const keyFile = str(ctx.values, 'key');
    if (to === undefined || keyFile === undefined) throw new EdgeError('EDGE_ERR_USAGE', 'deploy needs --to <device id | group:<name>> and --key <private key PEM>');
    let pem: string;
    try {
      pem = await readFile(keyFile, 'utf8');
    } catch (e) {
      throw new EdgeError('EDGE_ERR_DEPLOY_KEY', `cannot read --key ${keyFile}`, { cause: e });
    }
    const bundle = await buildBundle(dir, privateKeyFromPem(pem, `--key ${keyFile}`));
    const group = to.startsWith('group:') ? to.slice('group:'.length) : null;
    const prefix = str(ctx.values, 'prefix') ?? (group !== null ? `edge/group/${group}` : defaultPrefix(to));
    const password = process.env['EDGE_INFER_MQTT_PASSWORD'];
    const username = str(ctx.values, 'username');
    const chunkBytes = positiveInt(ctx.values, 'chunk-kb', 64) * 1024;
    if (!ctx.json) ctx.out(`bundle ${bundle.id}: ${bundle.manifest.model}, ${bundle.manifest.files.length} files, ${bundle.blob.length} bytes, ${Math.ceil(bundle.blob.length / chunkBytes)} chunks of ${chunkBytes} bytes`);
    const r = await sendBundle({
      url: str(ctx.values, 'broker') ?? 'mqtt://localhost:1883',
      prefix,
      stateFilter: group !== null ? 'edge/+/deploy/state' : `${prefix}/deploy/state`,
      expect: group !== null ? positiveInt(ctx.values, 'expect', 1) : 1,
      bundle,
      chunkBytes,
      timeoutMs: positiveInt(ctx.values, 'timeout-ms', 120_000),
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      onState: (topic, s) => {
        if (!ctx.json) ctx.out(`${topic}: ${s.step}${s.ok ? '' : ` ${s.code ?? ''}`}${s.message ? ` (${s.message})` : ''}${s.missing ? ` missing ${s.missing.length}` : ''}`);
      },
    });
    if (ctx.json) ctx.out(JSON.stringify({ bundleId: bundle.id, model: bundle.manifest.model, chunksSent: r.chunksSent, rounds: r.rounds, states: r.states }, null, 2));
    const failed = Object.values(r.states).find((s) => s.step !== 'committed');
    if (failed === undefined) return 0;
    const code = isErrorCode(failed.code) ? failed.code : 'EDGE_ERR_DEPLOY_FAILED';
    throw new EdgeError(code, `bundle ${bundle.id}: ${failed.step}${failed.message ? `: ${failed.message}` : ''}`, { details: { states: r.states } });
  },
};
