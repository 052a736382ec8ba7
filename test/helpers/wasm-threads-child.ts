/**
 * Run as a child process by wasm-threads.test.ts (SAM2LONG_WASM_THREADS picks the threads): starts the wasm
 * backend, runs ops big enough for XNNPACK to split them over its threads, prints the thread count and a
 * digest of the outputs' bytes, then returns without exiting explicitly, so a pool thread that kept Node
 * alive would show as a timeout.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/node/backend.js';
import { seededValues } from './ops.js';

await initBackend('wasm');
const a = tf.tensor2d(seededValues(512 * 384, 1), [512, 384]);
const b = tf.tensor2d(seededValues(384 * 640, 2), [384, 640]);
const image = tf.tensor4d(seededValues(64 * 64 * 32, 3), [1, 64, 64, 32]);
const kernel = tf.tensor4d(seededValues(3 * 3 * 32 * 48, 4), [3, 3, 32, 48]);
const depthwise = tf.tensor4d(seededValues(7 * 7 * 32, 5), [7, 7, 32, 1]);
const outputs = [tf.matMul(a, b), tf.conv2d(image, kernel, 1, 'same'), tf.depthwiseConv2d(image, depthwise, 1, 'same')];
const digest = createHash('sha256');
for (const out of outputs) digest.update(new Uint8Array((out.dataSync() as Float32Array).buffer));
process.stdout.write(JSON.stringify({ threads: getThreadsCount(), digest: digest.digest('hex') }));
