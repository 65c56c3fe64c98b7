/** `edge-infer inspect <model.onnx> [--json]`: what a model is made of (see optimize/inspect.ts). */
import { inspectModel, type InspectReport } from '../../optimize/inspect.js';
import { readOnnx } from '../../optimize/onnx-io.js';
import type { Command } from '../command.js';
import { readInputBytes } from '../files.js';
import { onePositional } from '../values.js';

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${n} B`;
}

function formatReport(file: string, bytes: number, r: InspectReport): string {
  const lines = [
    `${file}: ${formatBytes(bytes)}, IR ${r.irVersion}${r.producer ? `, from ${r.producer}` : ''}`,
    `opsets: ${r.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}`,
    ...r.inputs.map((v) => `input  ${v.name}: ${v.dtype} [${v.shape.join(', ')}]`),
    ...r.outputs.map((v) => `output ${v.name}: ${v.dtype} [${v.shape.join(', ')}]`),
    `ops: ${Object.entries(r.opCounts)
      .map(([op, n]) => `${op} x${n}`)
      .join(', ')}`,
    '',
    'layer'.padEnd(40) + 'op'.padEnd(28) + 'params'.padStart(12) + 'bytes'.padStart(12) + 'MACs'.padStart(14),
    ...r.layers.map((l) => (l.graph === undefined ? l.name : `${l.graph.replace(/^main\//, '')}/${l.name}`).slice(-39).padEnd(40) + l.op.slice(0, 27).padEnd(28) + String(l.params).padStart(12) + String(l.initializerBytes).padStart(12) + (l.macs === null ? '?' : String(l.macs)).padStart(14)),
    '',
    `params ${r.params}, MACs per sample ${r.macs}${r.macsUnknown.length ? ` (unknown for ${r.macsUnknown.join(', ')})` : ''}`,
    `weights ${formatBytes(r.memory.weightBytes)}, activations at batch 1 ${r.memory.activationBytes === null ? 'unknown' : formatBytes(r.memory.activationBytes)}, estimated peak memory ${formatBytes(r.memory.estimatedPeakBytes)}`,
  ];
  return lines.join('\n') + '\n';
}

export const command: Command = {
  name: 'inspect',
  summary: "show an ONNX file's opsets, inputs/outputs, ops, parameters, MACs per layer and memory cost",
  usage: '<model.onnx> [--json]',
  examples: ['edge-infer inspect models/digits/teacher-fp32.onnx', 'edge-infer inspect model.onnx --json'],
  options: {},
  async run(ctx) {
    const file = onePositional(ctx.positionals, '<model.onnx>');
    const bytes = await readInputBytes(file);
    const report = inspectModel(readOnnx(bytes), bytes.byteLength);
    ctx.out(ctx.json ? JSON.stringify({ file, bytes: bytes.byteLength, ...report }, null, 2) + '\n' : formatReport(file, bytes.byteLength, report));
    return 0;
  },
};
