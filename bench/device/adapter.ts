/**
 * The device machine's first check (bench/device/run.sh): starts the WebGPU backend as the bench will
 * (SAM2LONG_DAWN_FLAGS) and prints Dawn's adapter as JSON. With --hardware it fails on a software adapter,
 * so that minutes of device time are not spent timing a CPU emulation of the GPU.
 *
 *   node .device/adapter.mjs [--hardware]
 */
import { parseArgs } from 'node:util';
import { initBackend, webGpuAdapter } from '../../src/node/backend.js';

const { values } = parseArgs({ options: { hardware: { type: 'boolean', default: false } } });
await initBackend('webgpu');
const adapter = webGpuAdapter();
console.log(JSON.stringify(adapter));
if (values.hardware && adapter?.software) {
  console.error('adapter: not a hardware GPU');
  process.exitCode = 1;
}
