/** The README's example of a SAM2Long variant (a replaced scoring policy) runs through the public API. */
import * as assert from 'node:assert/strict';
import { VideoPredictor, tree, type TreeStepInfo } from '../src/index.js';
import { setupBackend } from './helpers/golden.js';
import { GoldenFrames, collect, miniModel } from './helpers/video.js';

describe('SAM2Long research hooks', () => {
  before(setupBackend);

  it('a replaced scoring policy is used on every tree step', async () => {
    let calls = 0;
    const presenceWeighted: tree.CandidateScoring = (acc, ious, objScores) => {
      calls++;
      return tree.scoreCandidates(acc, ious, objScores).map((c) => ({
        ...c,
        score: acc[c.parent] + Math.log(c.iou * (1 / (1 + Math.exp(-c.objectScore))) + 1e-5),
      })).sort((a, b) => b.score - a.score);
    };
    const steps: TreeStepInfo[] = [];
    const predictor = new VideoPredictor(miniModel('sam21_mini_b'), { tree: { pathways: 3, scoring: presenceWeighted, onStep: (s) => steps.push(s) } });
    const state = await predictor.initState(new GoldenFrames('video2', 8));
    await predictor.addPoints(state, { frame: 0, objId: 1, points: [[46, 128]], labels: [1] });
    const results = await collect(predictor.propagate(state));
    state.dispose();
    assert.equal(calls, 6);
    assert.equal(steps.length, 6);
    assert.equal(results.filter((r) => r.final).length, 8);
    // The variant's scores are what the tree keeps.
    const last = steps[steps.length - 1];
    assert.deepEqual(tree.pathScores(last.tree), last.prune.kept.map((c) => c.score));
  });
});
