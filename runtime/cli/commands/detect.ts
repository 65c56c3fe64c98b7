import { stat } from 'node:fs/promises';
import { EdgeError } from '../../errors.js';
import { detectProfile, formatDetection, readHostFacts } from '../../config/detect.js';
import { listProfiles } from '../../config/profile.js';
import { profilesDir } from '../../service/setup.js';
import type { Command } from '../command.js';
import { noPositionals, str } from '../values.js';

/** --root must be a folder: a typo must not silently detect "no host facts". Throws EDGE_ERR_USAGE. */
async function rootFolder(root: string | undefined): Promise<string> {
  if (root === undefined) return '/';
  const s = await stat(root).catch(() => null);
  if (s === null || !s.isDirectory()) throw new EdgeError('EDGE_ERR_USAGE', `--root ${root} is not a folder`, { details: { root } });
  return root;
}

export const command: Command = {
  name: 'detect',
  summary: 'detect which device profile fits this host (device-tree model, CPU features, memory, cgroup limit) and why',
  usage: '[--root <dir>] [--profiles <dir>] [--json]',
  options: {
    root: { type: 'string', help: 'read /proc and /sys under this folder instead of / (fixtures, chroots)' },
    profiles: { type: 'string', help: 'profiles folder; default: the bundled device-profiles/' },
  },
  examples: ['edge-infer detect', 'edge-infer detect --root test/fixtures/hosts/rpi4-8gb-arm64 --json'],
  async run(ctx) {
    noPositionals(ctx.positionals);
    const facts = await readHostFacts(await rootFolder(str(ctx.values, 'root')));
    const result = detectProfile(facts, await listProfiles(str(ctx.values, 'profiles') ?? profilesDir(ctx.packageRoot)));
    ctx.out(ctx.json ? JSON.stringify(result, null, 2) : formatDetection(result));
    return 0;
  },
};
