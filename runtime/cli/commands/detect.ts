import { detectProfile, formatDetection, readHostFacts } from '../../config/detect.js';
import { listProfiles } from '../../config/profile.js';
import { profilesDir } from '../../service/setup.js';
import type { Command } from '../command.js';
import { str } from '../values.js';

export const command: Command = {
  name: 'detect',
  summary: 'detect which device profile fits this host (device-tree model, CPU features, memory, cgroup limit) and why',
  usage: '[--root <dir>] [--profiles <dir>] [--json]',
  options: {
    root: { type: 'string', help: 'read /proc and /sys under this folder instead of / (fixtures, chroots)' },
    profiles: { type: 'string', help: 'profiles folder; default: the bundled device-profiles/' },
  },
  async run(ctx) {
    const facts = await readHostFacts(str(ctx.values, 'root') ?? '/');
    const result = detectProfile(facts, await listProfiles(str(ctx.values, 'profiles') ?? profilesDir(ctx.packageRoot)));
    ctx.out(ctx.json ? JSON.stringify(result, null, 2) : formatDetection(result));
    return 0;
  },
};
