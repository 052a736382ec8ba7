/**
 * tfjs-webgpu's fused matMul with our epilogue inside its program: GELU (tfjs's matMul epilogues stop at ReLU
 * and friends), a per-channel scale and a residual add, applied to each value as the program stores it. Run as
 * separate programs, each would write the whole product out and read it back once more (at 1024 px a Hiera
 * MLP's hidden activations are 100 MB a pass).
 *
 * tfjs chooses among four matMul programs by shape (packed tiles, small outputs, a reduction, split-K with a
 * bias program after it) and builds each with an `activation` function that the value passes through after the
 * bias. Asked for the identity ('linear'), that function is `return a;`: here the program that carries it has
 * it replaced by our statements and our operands bound after the bias, with its own shader key. So the product,
 * its tiling and its summation order stay tfjs's own, and only what follows the bias is ours. A tfjs whose
 * programs no longer read so fails loudly here (and in test/webgpu-kernels.test.ts), never silently.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WGSL_GELU } from './gelu.js';

/** The activations of the linear kernels of this folder. */
export type LinearActivation = 'linear' | 'relu' | 'gelu';

/** What follows the bias: the activation, then `· scale` per output channel, then `+ residual`. */
export interface Epilogue {
  activation: LinearActivation;
  /** [out] */
  scale?: tf.TensorInfo;
  /** [rows, out]: the product's rows */
  residual?: tf.TensorInfo;
}

/** A registered webgpu kernel's function (tfjs-webgpu's own Reshape and _FusedMatMul). */
export function webgpuKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'webgpu');
  if (!kernel) throw new Error(`tfjs-webgpu has no ${name} kernel`);
  return kernel.kernelFunc;
}

/** The fields of tfjs-webgpu's programs that the splice reads or changes. */
interface TfjsProgram {
  activation?: string | null;
  variableNames: string[];
  variableComponents?: number[];
  outputComponent?: number;
  shaderKey: string;
  getUserCode(): string;
}

type RunProgram = (program: TfjsProgram, inputs: tf.TensorInfo[], ...rest: unknown[]) => tf.TensorInfo;

/** tfjs's identity activation, `a` being the value after the bias (f32, or vec4<f32> in vectorised programs). */
const IDENTITY = /(fn activation\(a : (?:f32|vec4<f32>), coords : vec\d<i32>\) -> (?:f32|vec4<f32>) \{\s*)return a;/;

/** `program` computing `epilogue` where it computed the identity, reading `operands` bound after its own. */
function splice(program: TfjsProgram, epilogue: Epilogue, operands: string[]): void {
  const components = program.outputComponent ?? 1;
  program.variableNames.push(...operands);
  program.variableComponents?.push(...operands.map(() => components));
  program.shaderKey += `_sam2longEpilogue_${epilogue.activation}_${operands.join('_')}`;
  const body = [
    'var v = a;',
    epilogue.activation === 'gelu' ? `v = ${components === 4 ? 'gelu4' : 'gelu'}(v);` : '',
    epilogue.activation === 'relu' ? `v = max(v, ${components === 4 ? 'vec4<f32>(0.0)' : '0.0'});` : '',
    epilogue.scale ? 'v = v * getEpilogueScaleByOutputCoords(coords);' : '',
    epilogue.residual ? 'v = getEpilogueResidualByOutputCoords(coords) + v;' : '',
    'return v;',
  ].join('\n        ');
  const userCode = program.getUserCode.bind(program);
  program.getUserCode = () => {
    const code = userCode();
    if (!IDENTITY.test(code)) throw new Error(`tfjs-webgpu's matMul program (${program.shaderKey}) has no identity activation to replace`);
    return `${WGSL_GELU}\n${code.replace(IDENTITY, `$1${body}`)}`;
  };
}

/**
 * a · b (+ bias), then `epilogue`, on backend tensors: tfjs-webgpu's fused matMul program, with the epilogue in
 * that program wherever tfjs's own (bias, ReLU) does not cover it. Rank-3 operands are batched products
 * (grouped-linear.ts).
 */
// a [(G,) R, in], b [(G,) in, out], bias broadcast to the output, scale [out], residual [R, out] → [(G,) R, out]
export function matMulEpilogue(a: tf.TensorInfo, b: tf.TensorInfo, bias: tf.TensorInfo | undefined, epilogue: Epilogue, backend: {}): tf.TensorInfo {
  const matMul = () => webgpuKernel('_FusedMatMul')({
    inputs: bias ? { a, b, bias } : { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false, activation: tfjsCovers(epilogue) ? epilogue.activation : 'linear', leakyreluAlpha: 0 },
  }) as tf.TensorInfo;
  if (tfjsCovers(epilogue)) return matMul();
  const extra: [string, tf.TensorInfo][] = [];
  if (epilogue.scale) extra.push(['epilogueScale', epilogue.scale]);
  if (epilogue.residual) extra.push(['epilogueResidual', epilogue.residual]);
  // The program to splice is the one built with our 'linear': the product, or after a split-K product the
  // bias program (the zero fill before it has no activation). Found as it is run, with its operands appended.
  const gpu = backend as { runWebGPUProgram: RunProgram };
  const own = Object.prototype.hasOwnProperty.call(gpu, 'runWebGPUProgram');
  const run = gpu.runWebGPUProgram;
  let spliced = false;
  gpu.runWebGPUProgram = function (program, inputs, ...rest) {
    if (spliced || program.activation !== 'linear') return run.call(this, program, inputs, ...rest);
    spliced = true;
    splice(program, epilogue, extra.map(([name]) => name));
    return run.call(this, program, [...inputs, ...extra.map(([, t]) => t)], ...rest);
  };
  try {
    const y = matMul();
    if (!spliced) throw new Error('tfjs-webgpu ran no matMul program with an activation to splice the epilogue into');
    return y;
  } finally {
    if (own) gpu.runWebGPUProgram = run;
    else delete (gpu as Partial<typeof gpu>).runWebGPUProgram;
  }
}

/** True where tfjs's own epilogue is the whole epilogue (its bias and ReLU, nothing after them). */
function tfjsCovers(epilogue: Epilogue): boolean {
  return epilogue.activation !== 'gelu' && !epilogue.scale && !epilogue.residual;
}
