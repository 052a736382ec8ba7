/**
 * tfjs-webgpu's fused matMul with our arithmetic spliced into its programs: an addend to the first operand's
 * rows as they are read (a position encoding added before a projection), and after the bias GELU (tfjs's
 * epilogues stop at ReLU and friends), a per-channel scale and a residual add, applied to each value as the
 * program stores it. Run as programs of their own, each would write a whole tensor out and read it back (at
 * 1024 px a Hiera MLP's hidden activations are 100 MB a pass) and cost a dispatch.
 *
 * tfjs chooses among four matMul programs by shape (packed tiles, small outputs, a reduction, split-K with a
 * bias program after it). Each reads the first operand through `mm_readA`, whose load is `value = getA(batch,
 * row, col);`, and passes each result through an `activation` function after the bias, which for the identity
 * ('linear') is `return a;`. Here those two statements of the programs that hold them become ours, with our
 * operands bound after tfjs's own and a shader key of their own. So the product, its tiling and its summation
 * order stay tfjs's; only the values read and what follows the bias are ours. A tfjs whose programs no longer
 * read so fails loudly here (and in test/webgpu-kernels.test.ts), never silently.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WGSL_GELU } from './gelu.js';

/** The activations of the linear kernels of this folder. */
export type LinearActivation = 'linear' | 'relu' | 'gelu';

/** What is spliced into the product a · b + bias. */
export interface MatMulSplice {
  /** After the bias, then `· scale` per output channel, then `+ residual`. */
  activation: LinearActivation;
  /** [out] */
  scale?: tf.TensorInfo;
  /** [rows, out]: the product's rows */
  residual?: tf.TensorInfo;
  /** [1, R, in]: added to a's row r as it is read, its row r mod R (R = rows, or a position encoding's tokens shared by a batch) */
  inputAddend?: tf.TensorInfo;
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

/** tfjs's load of the first operand in `mm_readA` (not transposed). */
const READ_A = 'value = getA(batch, row, col);';
/** tfjs's identity activation, `a` being the value after the bias (f32, or vec4<f32> in vectorised programs). */
const IDENTITY = /(fn activation\(a : (?:f32|vec4<f32>), coords : vec\d<i32>\) -> (?:f32|vec4<f32>) \{\s*)return a;/;

/** One change to a program's code: `edit` of the code, operands bound after the program's own. */
interface Edit {
  key: string;
  operands: [string, tf.TensorInfo][];
  edit: (code: string, components: number) => string;
}

/** The load of `a` with the addend: in vectorised programs both read four channels at once. */
function prologue(addend: tf.TensorInfo): Edit {
  return {
    key: 'inputAddend',
    operands: [['inputAddend', addend]],
    edit: (code) => {
      if (!code.includes(READ_A)) throw new Error("tfjs-webgpu's matMul program reads its first operand otherwise than expected");
      return code.split(READ_A).join('value = getA(batch, row, col) + getInputAddend(0, row % uniforms.inputAddendShape[1], col);');
    },
  };
}

/** The identity activation replaced by the activation, the scale and the residual. */
function epilogue({ activation, scale, residual }: MatMulSplice): Edit {
  const operands: [string, tf.TensorInfo][] = [];
  if (scale) operands.push(['epilogueScale', scale]);
  if (residual) operands.push(['epilogueResidual', residual]);
  return {
    key: `epilogue_${activation}_${operands.map(([name]) => name).join('_')}`,
    operands,
    edit: (code, components) => {
      if (!IDENTITY.test(code)) throw new Error("tfjs-webgpu's matMul program has no identity activation to replace");
      const body = [
        'var v = a;',
        activation === 'gelu' ? `v = ${components === 4 ? 'gelu4' : 'gelu'}(v);` : '',
        activation === 'relu' ? `v = max(v, ${components === 4 ? 'vec4<f32>(0.0)' : '0.0'});` : '',
        scale ? 'v = v * getEpilogueScaleByOutputCoords(coords);' : '',
        residual ? 'v = getEpilogueResidualByOutputCoords(coords) + v;' : '',
        'return v;',
      ].join('\n        ');
      return `${activation === 'gelu' ? WGSL_GELU : ''}\n${code.replace(IDENTITY, `$1${body}`)}`;
    },
  };
}

/** `program` with `edits` applied to its code and their operands declared after its own. */
function splice(program: TfjsProgram, edits: Edit[]): tf.TensorInfo[] {
  const components = program.outputComponent ?? 1;
  const operands = edits.flatMap((e) => e.operands);
  program.variableNames.push(...operands.map(([name]) => name));
  program.variableComponents?.push(...operands.map(() => components));
  program.shaderKey += edits.map((e) => `_sam2long_${e.key}`).join('');
  const userCode = program.getUserCode.bind(program);
  program.getUserCode = () => edits.reduce((code, e) => e.edit(code, components), userCode());
  return operands.map(([, t]) => t);
}

/**
 * a · b (+ bias) with `parts` spliced in, on backend tensors: tfjs-webgpu's fused matMul program, tfjs's own
 * bias and ReLU where they are the whole epilogue. Rank-3 operands are batched products (grouped-linear.ts).
 */
// a [(G,) R, in], b [(G,) in, out], bias broadcast to the output, scale [out], residual [R, out], inputAddend [1, R', in] → [(G,) R, out]
export function matMulSpliced(a: tf.TensorInfo, b: tf.TensorInfo, bias: tf.TensorInfo | undefined, parts: MatMulSplice, backend: {}): tf.TensorInfo {
  const tfjsEpilogue = parts.activation !== 'gelu' && !parts.scale && !parts.residual;
  const matMul = () => webgpuKernel('_FusedMatMul')({
    inputs: bias ? { a, b, bias } : { a, b },
    backend,
    attrs: { transposeA: false, transposeB: false, activation: tfjsEpilogue ? parts.activation : 'linear', leakyreluAlpha: 0 },
  }) as tf.TensorInfo;
  if (tfjsEpilogue && !parts.inputAddend) return matMul();
  // The product's program reads `a` (its first operand is A; split-K's zero fill has none); the program built
  // with our 'linear' applies the bias: the product's itself, or after a split-K product its bias program.
  // Each is found as it is run, and given its operands.
  let inputEdit = parts.inputAddend ? prologue(parts.inputAddend) : null;
  let outputEdit = tfjsEpilogue ? null : epilogue(parts);
  const gpu = backend as { runWebGPUProgram: RunProgram };
  const own = Object.prototype.hasOwnProperty.call(gpu, 'runWebGPUProgram');
  const run = gpu.runWebGPUProgram;
  gpu.runWebGPUProgram = function (program, inputs, ...rest) {
    const edits: Edit[] = [];
    if (inputEdit && program.variableNames[0] === 'A') {
      edits.push(inputEdit);
      inputEdit = null;
    }
    if (outputEdit && program.activation === 'linear') {
      edits.push(outputEdit);
      outputEdit = null;
    }
    return run.call(this, program, edits.length ? [...inputs, ...splice(program, edits)] : inputs, ...rest);
  };
  try {
    const y = matMul();
    if (inputEdit || outputEdit) throw new Error('tfjs-webgpu ran no matMul program to splice into');
    return y;
  } finally {
    if (own) gpu.runWebGPUProgram = run;
    else delete (gpu as Partial<typeof gpu>).runWebGPUProgram;
  }
}
