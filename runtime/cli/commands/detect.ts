import { stat } from 'node:fs/promises';
import { EdgeError } from '../../errors.js';
import { detectProfile, formatDetection, readHostFacts } from '../../config/detect.js';
import { listProfiles } from '../../config/profile.js';
import { profilesDir } from '../../service/setup.js';
import type { Command } from '../command.js';
import { noPositionals, str } from '../values.js';

/** --root / --profiles must be folders: a typo must not silently detect "no host facts". Throws EDGE_ERR_USAGE. */
async function rootFolder(dir: string, flagName: string): Promise<string> {
  const s = await stat(dir).catch(() => null);
  if (s === null || !s.isDirectory()) throw new EdgeError('EDGE_ERR_USAGE', `${flagName} ${dir} is not a folder`, { details: { [flagName]: dir } });
  return dir;
}

export const command: Command = {
  name: 'detect',
  summary: 'detect which device profile fits this host (device-tree model, CPU features, memory, cgroup limit) and why',
  usage: '[--root <dir>] [--profiles <dir>] [--json]',
  options: { root: { type: 'string', help: 'read /proc and /sys under this folder instead of / (fixtures, chroots)' }, profiles: { type: 'string', help: 'profiles folder; default: the bundled device-profiles/' } },
  examples: ['edge-infer detect', 'edge-infer detect --root test/fixtures/hosts/rpi4-8gb-arm64 --json'],
  async run(ctx) {
    noPositionals(ctx.positionals);
    const root = str(ctx.values, 'root');
    const facts = await readHostFacts(root === undefined ? '/' : await rootFolder(root, '--root'));
    const given = str(ctx.values, 'profiles');
    const profiles = await listProfiles(given === undefined ? profilesDir(ctx.packageRoot) : await rootFolder(given, '--profiles'));
    // An explicit --profiles with no profile in it is a mistake, not "derive one from the host".
    if (given !== undefined && profiles.length === 0) throw new EdgeError('EDGE_ERR_USAGE', `--profiles ${given} holds no device profile (<id>.json)`, { details: { profiles: given } });
    const result = detectProfile(facts, profiles);
    ctx.out(ctx.json ? JSON.stringify(result, null, 2) : formatDetection(result));
    return 0;
  },
};
