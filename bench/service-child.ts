/**
 * Benchmark child (not the CLI): runs EdgeService in this process from a config file and measures
 * this process's event-loop delay with perf_hooks.monitorEventLoopDelay (10 ms resolution is too
 * coarse; 1 ms). IPC: 'report' / 'report-reset' answer {maxMs, p99Ms, meanMs}; SIGTERM stops.
 *
 *   node dist/bench/service-child.js <config.json>
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadServiceConfig } from '../runtime/config/service-config.js';
import { createLogger } from '../runtime/log.js';
import { EdgeService } from '../runtime/service/service.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const file = process.argv[2];
if (file === undefined) throw new Error('usage: service-child <config.json>');
const config = await loadServiceConfig(file);
const log = createLogger({ level: 'info', format: 'json' }, { service: 'edge-infer-bench' });
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const service = await EdgeService.start({ config, packageRoot: root, version, log, brokerConfigured: true });
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
// GC pauses on this thread, to tell them apart from our own work in the loop delay.
let gcMaxMs = 0;
let gcTotalMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { gcMaxMs = Math.max(gcMaxMs, e.duration); gcTotalMs += e.duration; }
}).observe({ entryTypes: ['gc'] });
// Involuntary context switches: times the kernel took the CPU away (2 cores shared with broker and load).
const nonvoluntary = (): number => Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
let nv0 = nonvoluntary();
process.on('message', (m) => {
  const figures = { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6, gcMaxMs, gcTotalMs, preempted: nonvoluntary() - nv0 };
  if (m === 'report-reset') { h.reset(); gcMaxMs = 0; gcTotalMs = 0; nv0 = nonvoluntary(); }
  process.send?.(figures);
});
process.once('SIGTERM', () => {
  void service.stop().then(() => process.exit(0));
});
