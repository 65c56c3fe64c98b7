/**
 * Benchmark child (not the CLI): runs EdgeService in this process from a config file and measures
 * this process's event-loop delay with perf_hooks.monitorEventLoopDelay (10 ms resolution is too
 * coarse; 1 ms). IPC: 'report' / 'report-reset' answer {maxMs, p99Ms, meanMs, gc..., alloc...}; SIGTERM stops.
 *
 * Bytes allocated (issue 16), main thread only (workers have heaps of their own): V8 keeps no
 * running total in Node 20, so it is rebuilt from v8.GCProfiler's per-GC heap statistics: what the
 * heap grew between the end of one GC and the start of the next is what was allocated then, plus
 * the growth since the last GC. The same sum over `externalMemory` (ArrayBuffer / Buffer backing
 * stores) is reported apart: it is coarser (pooled small Buffers share 8 KB slabs). Divided by the
 * requests the runtime counted in the same window.
 *
 *   node dist/bench/service-child.js <config.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
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
  for (const e of list.getEntries()) {
    gcMaxMs = Math.max(gcMaxMs, e.duration);
    gcTotalMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
// Involuntary context switches: times the kernel took the CPU away (2 cores shared with broker and load).
const nonvoluntary = (): number => Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
let nv0 = nonvoluntary();
const requests = (): number => service.runtime.telemetry().reduce((n, m) => n + m.requests + m.errors + m.rejected, 0);
let profiler = new GCProfiler();
let last = { used: getHeapStatistics().used_heap_size, external: getHeapStatistics().external_memory };
let acc = { heapB: 0, externalB: 0, requests0: requests() };
profiler.start();
/** Adds what was allocated since the previous call to `acc` (see the header) and restarts the profiler. */
function account(): void {
  const r = profiler.stop();
  for (const g of r?.statistics ?? []) {
    acc.heapB += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - last.used);
    acc.externalB += Math.max(0, g.beforeGC.heapStatistics.externalMemory - last.external);
    last = { used: g.afterGC.heapStatistics.usedHeapSize, external: g.afterGC.heapStatistics.externalMemory };
  }
  const now = getHeapStatistics();
  acc.heapB += Math.max(0, now.used_heap_size - last.used);
  acc.externalB += Math.max(0, now.external_memory - last.external);
  last = { used: now.used_heap_size, external: now.external_memory };
  profiler = new GCProfiler();
  profiler.start();
}
process.on('message', (m) => {
  account();
  const n = requests() - acc.requests0;
  const figures = { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, meanMs: h.mean / 1e6, gcMaxMs, gcTotalMs, preempted: nonvoluntary() - nv0, requests: n, heapBPerRequest: n > 0 ? acc.heapB / n : NaN, externalBPerRequest: n > 0 ? acc.externalB / n : NaN };
  if (m === 'report-reset') {
    h.reset();
    gcMaxMs = 0;
    gcTotalMs = 0;
    nv0 = nonvoluntary();
    acc = { heapB: 0, externalB: 0, requests0: requests() };
  }
  process.send?.(figures);
});
// EDGE_BENCH_HEAP_SAMPLE=<file> (bench/burst-profile.ts heap): V8's sampling heap profiler over every
// allocation, collected ones included (--heap-prof keeps only what is still live at exit), written at SIGTERM.
const heapSample = process.env['EDGE_BENCH_HEAP_SAMPLE'];
const inspector = heapSample === undefined ? null : new Session();
if (inspector !== null) {
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
process.once('SIGTERM', () => {
  void (async () => {
    if (inspector !== null && heapSample !== undefined) {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(heapSample, JSON.stringify(profile));
    }
    await service.stop();
    process.exit(0);
  })();
});
