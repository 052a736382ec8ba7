/** The bench's PyTorch reference: read from sam2_bench.py's JSON lines, never built in. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readPytorchReference } from '../bench/reference.js';

describe('bench --pytorch FILE (sam2_bench.py JSON lines)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-ref-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, lines: object[]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `not json: a warning line\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    return file;
  };

  it('takes the encoder, the 1-row and P-row steps and their parts; frames are encoder + step', () => {
    const file = write('ref.jsonl', [
      { info: { torch: '1.13.1', threads: 2 } },
      { size: 't', what: 'image encoder (forward_image: Hiera+FPN+conv_s0/s1) 1x3x1024x1024', median: 3.5 },
      { size: 't', what: 'track_step non-cond frame, full bank, batch B=1', median: 5.5,
        parts_median_s: { memory_attention: 4.5, sam_prompt_encoder: 0.25, sam_mask_decoder: 0.5, memory_encoder: 0.375 } },
      { size: 't', what: 'track_step non-cond frame, full bank, batch B=3', median: 17 },
    ]);
    const ref = readPytorchReference(file, 3);
    assert.deepEqual(ref.ms, { imageEncoder: 3500, greedyStep: 5500, memoryAttention: 4500, maskDecoder: 750, memoryEncoder: 375, treeStep: 17000, greedyFrame: 9000, treeFrame: 20500 });
    assert.match(ref.source, /PyTorch 1\.13\.1, 2 threads/);
    assert.equal(readPytorchReference(file, 5).ms.treeStep, undefined);
  });

  it('refuses a file without measurements', () => {
    assert.throws(() => readPytorchReference(write('empty.jsonl', [{ info: {} }]), 3), /no measurement of sam2_bench\.py/);
  });
});
