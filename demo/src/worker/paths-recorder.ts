/**
 * SAM2Long's paths on a range of frames, as the CLI's --paths-view draws them: while the tree tracks, the low-res
 * logits of every slot stored on those frames are kept (the tree's onSlots hook) and the tree as it stands after
 * the range's last frame (onStep); afterwards each path's masks on each frame are the slots that path went
 * through (tree.slotOnFrame), turned into label maps by the predictor like any result.
 */
import { tree as memoryTree, type TreeOptions, type VideoPredictor, type VideoState } from '../../../src/browser.js';
import { labelMap } from '../masks.js';
import type { PathsFrame } from './protocol.js';

export class PathsRecorder {
  /** frame → objId → logits per slot. */
  private readonly logits = new Map<number, Map<number, readonly Float32Array[]>>();
  /** objId → its tree after the range's last frame (or the last one tracked). */
  private readonly trees = new Map<number, memoryTree.MemoryTree>();

  constructor(private readonly first: number, private readonly last: number, private readonly pathways: number) {}

  hooks(): Pick<TreeOptions, 'onSlots' | 'onStep'> {
    return {
      onSlots: (frame, objId, logits) => {
        if (frame < this.first || frame > this.last) return;
        if (!this.logits.has(frame)) this.logits.set(frame, new Map());
        this.logits.get(frame)?.set(objId, logits);
      },
      onStep: (step) => {
        if (step.frame <= this.last) this.trees.set(step.objId, step.tree);
      },
    };
  }

  /** Path p's slot on `frame`; the frame after the prompt stores one slot, before any tree step. */
  private slot(objId: number, frame: number, p: number): number {
    const t = this.trees.get(objId);
    return t && frame > t.startFrame ? memoryTree.slotOnFrame(t, p, frame) : 0;
  }

  /** Each recorded frame's label map per path. */
  render(predictor: VideoPredictor, state: VideoState): PathsFrame[] {
    const { width, height } = state.frames;
    return [...this.logits].sort((a, b) => a[0] - b[0]).map(([frame, slots]) => ({
      frame,
      paths: Array.from({ length: this.pathways }, (_, p) => {
        const r = predictor.frameResult(state, frame, (o) => {
          const logits = slots.get(o.id);
          return logits && { logits: logits[this.slot(o.id, frame, p)], objectScore: 0 };
        }, true);
        return labelMap(r.objIds, r.masks, width * height);
      }),
    }));
  }
}
