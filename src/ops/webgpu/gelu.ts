/**
 * GELU (erf form) as one elementwise WebGPU program: x · ½ · (1 + erf(x/√2)), with erf as tfjs's own kernel
 * computes it (Abramowitz & Stegun 7.1.26, tfjs's constants), so the values match the composition it replaces
 * (model/common.ts's gelu: four kernels and three intermediate tensors) on the webgpu backend; that composition
 * stays the path elsewhere and is its reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerUnaryProgram } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

/** The elementwise GELU program. */
class GeluProgram extends ElementwiseProgram {
  variableNames = ['x'];
  shaderKey = 'sam2longGelu';

  getUserCode(): string {
    return this.main('result[index] = gelu(x[index]);', WGSL_GELU);
  }
}

/**
 * WGSL's `gelu(v)` and `gelu4(v)` of a vec4 (the erf form, erf as tfjs's own kernel computes it), for any
 * program of this folder.
 */
export const WGSL_GELU = (() => {
  const b = tf.backend_util;
  return `
    fn erfApprox(a : f32) -> f32 {
      let t = 1.0 / (1.0 + ${b.ERF_P} * abs(a));
      return sign(a) * (1.0 - (((((${b.ERF_A5} * t + ${b.ERF_A4}) * t) + ${b.ERF_A3}) * t + ${b.ERF_A2}) * t + ${b.ERF_A1}) * t * exp(-a * a));
    }
    fn gelu(v : f32) -> f32 {
      return v * 0.5 * (erfApprox(v * ${Math.SQRT1_2}) + 1.0);
    }
    fn gelu4(v : vec4<f32>) -> vec4<f32> {
      return vec4<f32>(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w));
    }`;
})();

/** GELU of every element, one program (webgpu backend only). */
// x [...] → [...]
export const fusedGelu = registerUnaryProgram('Sam2longGelu', (shape) => new GeluProgram(shape));
