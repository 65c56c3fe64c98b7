import path from 'node:path';
import { createEngine } from '../../backend/select-engine.js';
import { calibrationPath, writeCalibration } from '../../budget/calibration-file.js';
import { loadServiceConfig } from '../../config/service-config.js';
import { calibrate } from '../../service/calibrate.js';
import { usableStateDir } from '../../service/service.js';
import { SETUP_OPTIONS, setupFromFlags } from '../setup-flags.js';
import type { Command } from '../command.js';
import { isErrorCode, ERROR_DEFS, EX_SOFTWARE } from '../../errors.js';
import { flag, noPositionals, positiveInt, str } from '../values.js';

export const command: Command = {
  name: 'bench',
  summary: 'measure every variant of every model on this device and backend (load time, latency p50/p95, RSS); --calibrate saves the figures for the planner',
  usage: '[--calibrate] [--profile <id|file>] [--models <dir>] [--backend auto|native|wasm] [--budget-mb N] [--runs N] [--state-dir <dir>] [--json]',
  options: {
    ...SETUP_OPTIONS,
    calibrate: { type: 'boolean', help: 'write <state-dir>/calibration-<profile>-<backend>.json; `plan` and `run` then use measured figures' },
    runs: { type: 'string', help: 'timed runs per variant (default 50)' },
    'state-dir': { type: 'string', help: "where the calibration goes (default: the service's state dir)" },
  },
  examples: ['edge-infer bench --profile generic-x64 --runs 20', 'edge-infer bench --calibrate --state-dir ./state'],
  async run(ctx) {
    noPositionals(ctx.positionals);
    const setup = await setupFromFlags(ctx);
    const runs = positiveInt(ctx.values, 'runs', 50);
    const engine = createEngine(setup.backend);
    try {
      const result = await calibrate({ profile: setup.profile, manifests: setup.manifests, engine, runs, onVariant: (e, model, variant, error) => process.stderr.write(e ? `measured ${model}/${variant}: p50 ${e.latencyP50Ms} ms, ${e.rssMB} MB\n` : `failed ${model}/${variant}: ${error ?? ''}\n`) });
      let file: string | null = null;
      if (flag(ctx.values, 'calibrate')) {
        const given = str(ctx.values, 'state-dir');
        const stateDir = await usableStateDir(given === undefined ? (await loadServiceConfig()).stateDir : path.resolve(given), ctx.log);
        file = await writeCalibration(stateDir, result.calibration, setup.backend);
      }
      if (ctx.json) {
        ctx.out(JSON.stringify({ profile: setup.profile.id, backend: setup.backend, file, ...result }, null, 2));
      } else {
        ctx.out(`profile ${setup.profile.id}, backend ${setup.backend}, ${setup.profile.inference.threads} thread(s), ${runs} runs per variant\n`);
        ctx.out(['MODEL', 'VARIANT', 'LOAD MS', 'P50 MS', 'P95 MS', 'RSS MB'].join('\t'));
        for (const e of result.calibration.entries) ctx.out([e.model, e.variant, e.loadMs.toFixed(1), e.latencyP50Ms.toFixed(3), e.latencyP95Ms.toFixed(3), e.rssMB.toFixed(1)].join('\t'));
        for (const f of result.failures) ctx.out(`FAILED ${f.model}/${f.variant}: ${f.code}: ${f.message}`);
        if (file) ctx.out(`\ncalibration written to ${file}`);
        else ctx.out(`\n(not saved; add --calibrate to write ${calibrationPath('<state-dir>', setup.profile.id, setup.backend)})`);
      }
      // A refused manifest or a failed variant exits with its code's status (78: a file to fix,
      // 70: onnxruntime), not 1 and not 0 with nothing measured (issue 13 probes).
      for (const e of setup.manifestErrors) process.stderr.write(`edge-infer: ${e.code}: refused manifest: ${e.message}\n  hint: ${e.hint}\n`);
      const first = setup.manifestErrors[0]?.code ?? result.failures[0]?.code;
      return first === undefined ? 0 : isErrorCode(first) ? ERROR_DEFS[first].exit : EX_SOFTWARE;
    } finally {
      await engine.close();
    }
  },
};
