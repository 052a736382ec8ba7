import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/node/backend.js';
import { fusedDepthwiseNorm } from '../src/ops/webgpu/depthwise-norm.js';
describe('t', () => {
  it('t', async () => {
    await useBackend('webgpu');
    for (const [side, c] of [[32, 64], [32, 8]]) {
      const x = tf.randomUniform([1, side, side, c]) as tf.Tensor4D;
      const f = () => fusedDepthwiseNorm(x, { filter: tf.randomUniform([7, 7, c, 1]) as tf.Tensor4D, filterBias: tf.ones([c]) as tf.Tensor1D, padding: 3, gamma: tf.ones([c]) as tf.Tensor1D, beta: tf.ones([c]) as tf.Tensor1D, eps: 1e-6 });
      const tconv = () => tf.depthwiseConv2d(x, tf.randomUniform([7, 7, c, 1]) as tf.Tensor4D, 1, 'same');
      for (const [n, g] of [['fused', f], ['tfjs dw', tconv]] as const) {
        { const y = g(); await y.data(); }
        const t0 = performance.now();
        for (let i = 0; i < 3; i++) { const y = g(); await y.data(); }
        console.log(side, c, n, ((performance.now() - t0) / 3).toFixed(1), 'ms');
      }
    }
  });
});
