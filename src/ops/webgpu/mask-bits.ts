/**
 * Objects' low-res mask logits to bit-packed masks at video resolution as one WebGPU program: each invocation
 * makes one 16-pixel word of one object's mask, upsampling its pixels' logits bilinearly in place (the
 * arithmetic of tfjs-webgpu's ResizeBilinear with half-pixel centres, so the same pixels come out on) and
 * thresholding them at 0. With `exclusive`, a pixel is on only for the first object whose logit there is
 * the highest, and only when that logit is > 0 (the non-overlap rule of predictor/non-overlap.ts). It replaces
 * predictor/transforms.ts's packedMaskBits composition (slice, resize, compare, cast, pad, reshape, weighted
 * sum per object; the running maximum over objects) on the webgpu backend; that stays the path elsewhere and
 * is its reference in tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerFusedKernel } from './fused.js';
import { ElementwiseProgram } from './wgsl.js';

const KERNEL = 'Sam2longMaskBits';

/** Mask pixels per output float: sums of distinct powers of two below 2^16 are exact in float32. */
export const MASK_BITS_PER_WORD = 16;

interface Attrs {
  /** The low-res maps' size. */
  h: number;
  w: number;
  height: number;
  width: number;
  exclusive: boolean;
}

/** [n, h, w, 1] (or [n, 1, h, w]: the same memory) logits → [n, ⌈height·width / 16⌉] words: pixel p is bit p mod 16 of word ⌊p / 16⌋. */
class MaskBitsProgram extends ElementwiseProgram {
  variableNames = ['x'];
  shaderKey: string;
  // The sizes as floats, divided in the shader as ResizeBilinear divides them (the same rounding).
  uniforms = 'inSize : vec2<f32>, outSize : vec2<f32>,';

  constructor(private readonly n: number, private readonly attrs: Attrs) {
    super([n, Math.ceil((attrs.height * attrs.width) / MASK_BITS_PER_WORD)]);
    this.shaderKey = `sam2longMaskBits_${n}_${attrs.h}_${attrs.w}_${attrs.height}_${attrs.width}_${attrs.exclusive}`;
  }

  getUserCode(): string {
    const { n } = this;
    const { h, w, height, width, exclusive } = this.attrs;
    const words = this.outputShape[1];
    // Object o's logit at output pixel (r, c): ResizeBilinear's source index, corners and lerps, term for term.
    const helpers = `
    fn upsampled(o : i32, rc : vec2<i32>) -> f32 {
      let ratio = uniforms.inSize / uniforms.outSize;
      let src = (vec2<f32>(rc) + vec2<f32>(0.5)) * ratio - vec2<f32>(0.5);
      let lo = vec2<i32>(src);
      let hi = vec2<i32>(min(uniforms.inSize - vec2<f32>(1.0), ceil(src)));
      let base = o * ${h * w};
      let topLeft = x[base + lo.x * ${w} + lo.y];
      let bottomLeft = x[base + hi.x * ${w} + lo.y];
      let topRight = x[base + lo.x * ${w} + hi.y];
      let bottomRight = x[base + hi.x * ${w} + hi.y];
      let frac = src - vec2<f32>(lo);
      let top = topLeft + (topRight - topLeft) * frac.y;
      let bottom = bottomLeft + (bottomRight - bottomLeft) * frac.y;
      return top + (bottom - top) * frac.x;
    }`;
    // Strictly greater: a tie goes to the earlier object (torch.argmax's rule).
    const on = exclusive
      ? `var best = upsampled(0, rc);
        var bestObject = 0;
        for (var k = 1; k < ${n}; k++) {
          let v = upsampled(k, rc);
          if (v > best) { best = v; bestObject = k; }
        }
        let on = best > 0.0 && bestObject == o;`
      : 'let on = upsampled(o, rc) > 0.0;';
    return this.main(`
      let o = index / ${words};
      let first = (index % ${words}) * ${MASK_BITS_PER_WORD};
      var bits = 0u;
      for (var j = 0; j < ${MASK_BITS_PER_WORD}; j++) {
        let p = first + j;
        if (p >= ${height * width}) { break; }
        let rc = vec2<i32>(p / ${width}, p % ${width});
        ${on}
        if (on) { bits = bits | (1u << u32(j)); }
      }
      result[index] = f32(bits);`, helpers);
  }
}

function maskBitsKernel({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: {} }): tf.TensorInfo {
  const { x } = inputs as Record<string, tf.TensorInfo>;
  const a = attrs as unknown as Attrs;
  const uniforms = [{ type: 'float32', data: [a.h, a.w] }, { type: 'float32', data: [a.height, a.width] }];
  return (backend as WebGPUBackend).runWebGPUProgram(new MaskBitsProgram(x.shape[0], a), [x], 'float32', uniforms);
}

registerFusedKernel(KERNEL, maskBitsKernel as unknown as tf.KernelFunc);

/**
 * Each object's mask at height × width (logits bilinearly upsampled, > 0), bit-packed, as one program
 * (webgpu backend only); `exclusive`: with the non-overlap rule across the objects.
 */
// lowRes [n, h, w, 1] or [n, 1, h, w] → [n, ⌈height·width / 16⌉]
export function fusedMaskBits(lowRes: tf.Tensor4D, height: number, width: number, exclusive: boolean): tf.Tensor2D {
  const [, a, b, c] = lowRes.shape;
  const [h, w] = c === 1 ? [a, b] : [b, c];
  return tf.engine().runKernel(KERNEL, { x: lowRes }, { h, w, height, width, exclusive } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}
