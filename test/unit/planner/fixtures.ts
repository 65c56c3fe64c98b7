/** Small in-memory profiles and manifests for planner tests (figures chosen for easy arithmetic). */
import type { DeviceProfile, Precision } from '../../../runtime/config/types.js';
import type { ModelManifest, VariantManifest } from '../../../runtime/repository/types.js';

export const MiB = 1024 * 1024;

export function profile(over: Partial<DeviceProfile['inference']> = {}): DeviceProfile {
  return {
    id: 'test-board',
    board: 'Test board',
    match: {},
    cpu: { arch: 'arm64', cores: 4, features: [] },
    memory: { totalMB: 2048, budgetMB: 512, reserveMB: 64 },
    inference: { threads: 2, precision: ['fp32', 'int8', 'mixed'], accuracyFloor: 0, latencyTargetMs: 100, backend: 'native', graphOptimization: 'all', estimatedGmacsPerS: { fp32: 4, int8: 8, mixed: 3 }, ...over },
    thermal: { softLimitC: 75, hardLimitC: 85 },
    telemetry: { intervalS: 30 },
  };
}

export function variant(id: string, precision: Precision, mib: number, over: Partial<VariantManifest> = {}): VariantManifest {
  return { id, file: `${id}.onnx`, sha256: '0'.repeat(64), bytes: mib * MiB, precision, params: 1000, macs: 1_000_000, ops: precision === 'int8' ? ['DynamicQuantizeLinear', 'MatMulInteger'] : ['Gemm'], quality: { accuracy: 0.97, agreement: 1, evalCount: 100 }, ...over };
}

/** fp32: 40 MiB file -> 58.0 MB estimated; int8: 10 MiB -> 19.0 MB estimated. */
export function model(id: string, variants: VariantManifest[] = [variant('fp32', 'fp32', 40), variant('int8', 'int8', 10)]): ModelManifest {
  return { id, task: 'classification', inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }], outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 3] }], reference: variants[0]?.id ?? 'fp32', variants };
}
