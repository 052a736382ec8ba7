/**
 * Soak tests (`npm run test:soak`, run by CI after `npm test`): 300-frame videos, long enough for memory to leak
 * visibly, too slow for the default suite (minutes on two loaded cores). The golden frames repeat.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { VideoPredictor } from '../../src/predictor/video-predictor.js';
import { setupBackend } from '../helpers/golden.js';
import { GoldenFrames, miniModel } from '../helpers/video.js';

describe('long videos keep memory flat (soak)', function () {
  // 300 frames take minutes on two idle cores and passed the default 10 minutes at load 15 (the tracking loop
  // rarely yields, so mocha's timer only fired at its end, after the assertions had held).
  this.timeout(45 * 60_000);
  before(setupBackend);

  it('greedy SAM 2: the tensor count stays flat over 300 frames once the memory window is full', async () => {
    const model = miniModel('sam21_mini');
    const predictor = new VideoPredictor(model);
    const base = new GoldenFrames('video1');
    const long = { numFrames: 300, width: base.width, height: base.height, has: async (i: number) => i < 300, input: (i: number) => base.input(i % base.numFrames), name: (i: number) => String(i) };
    const state = await predictor.initState(long);
    await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
    const counts: number[] = [];
    const bytes: number[] = [];
    for await (const r of predictor.propagate(state)) {
      counts[r.frame] = tf.memory().numTensors;
      bytes[r.frame] = tf.memory().numBytes;
    }
    assert.equal(counts.length, 300);
    const after = counts.slice(40);
    console.log(`      tensors after frame 40: min ${Math.min(...after)} max ${Math.max(...after)}; bytes ${Math.min(...bytes.slice(40))}..${Math.max(...bytes.slice(40))}`);
    assert.equal(Math.max(...after), Math.min(...after));
    assert.equal(Math.max(...bytes.slice(40)), Math.min(...bytes.slice(40)));
    state.dispose();
  });

  it('SAM2Long P=3: the tensor count stays within its band over 300 frames', async () => {
    const predictor = new VideoPredictor(miniModel('sam21_mini_b'), { tree: { pathways: 3 } });
    const base = new GoldenFrames('video2');
    const n = 300;
    const long = { numFrames: n, width: base.width, height: base.height, has: async (i: number) => i < n, input: (i: number) => base.input(i % base.numFrames), name: (i: number) => String(i) };
    const state = await predictor.initState(long);
    await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
    const counts: number[] = [];
    let finalCount = 0;
    for await (const r of predictor.propagate(state)) {
      if (r.final) finalCount++;
      else counts.push(tf.memory().numTensors);
    }
    assert.equal(finalCount, n);
    // The stored frames vary with how many recent frames each path finds usable, so the count moves within a
    // band; it must not drift upwards with the video's length.
    const middle = counts.slice(60, 180);
    const last = counts.slice(180);
    console.log(`      tensors: frames 60–179 ${Math.min(...middle)}..${Math.max(...middle)}, frames 180+ ${Math.min(...last)}..${Math.max(...last)}`);
    assert.ok(Math.max(...last) <= Math.max(...middle), 'tensor count must not grow with the video length');
    state.dispose();
  });
});
