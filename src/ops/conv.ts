/**
 * Convolutions with their bias as one engine kernel. tf.fused.conv2d and tf.fused.depthwiseConv2d wrap the
 * backend's fused kernel in a gradient function, which the engine runs as a kernel of its own; inference needs
 * no gradient, so these run the same backend kernel (the same program, the same values) directly.
 */
import * as tf from '@tensorflow/tfjs-core';

type Conv = 'FusedConv2D' | 'FusedDepthwiseConv2D';

// x [B, H, W, in], filter [k, k, in, out] (depthwise: [k, k, in, 1]), bias [out] → [B, H', W', out]
function convWithBias(kernel: Conv, x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, pad: number, bias: tf.Tensor1D | null): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = bias ? { x, filter, bias } : { x, filter };
  const attrs = { strides: [stride, stride], pad, dataFormat: 'NHWC', dilations: [1, 1], activation: 'linear', leakyreluAlpha: 0 };
  return tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** A convolution (PyTorch's symmetric zero padding `pad`) plus its bias. */
export function conv2dWithBias(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, pad: number, bias: tf.Tensor1D | null): tf.Tensor4D {
  return convWithBias('FusedConv2D', x, filter, stride, pad, bias);
}

/** A depthwise convolution (one filter per channel, zero padding `pad`) plus its bias. */
export function depthwiseConv2dWithBias(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, pad: number, bias: tf.Tensor1D | null): tf.Tensor4D {
  return convWithBias('FusedDepthwiseConv2D', x, filter, stride, pad, bias);
}
