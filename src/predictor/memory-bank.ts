/**
 * SAM 2's greedy memory bank rules, as plain functions of frame indices: which conditioning frames, which
 * recent frames (with their temporal slot t_pos) and which object pointers (with their temporal distance)
 * a frame attends to. The predictor maps the chosen frame indices to stored tensors.
 */

export interface GreedyMemoryOptions {
  numMaskmem: number;
  /** memory_temporal_stride_for_eval */
  stride: number;
  /** max_cond_frames_in_attn (-1: all) */
  maxCondFrames: number;
  /** min(num_frames, max_obj_ptrs_in_encoder) */
  maxObjPtrs: number;
  numFrames: number;
  reverse: boolean;
  useObjPtrs: boolean;
  signedTpos: boolean;
  onlyPastPointers: boolean;
}

export interface FrameChoice {
  frame: number;
  /** 0 for conditioning frames, 1..numMaskmem-1 for recent ones (most recent = numMaskmem-1). */
  tpos: number;
  /** Whether the frame's output lives with the conditioning frames. */
  cond: boolean;
}

export interface PointerChoice {
  frame: number;
  cond: boolean;
  tdiff: number;
}

export interface GreedySelection {
  frames: FrameChoice[];
  pointers: PointerChoice[];
}

/** Up to `max` conditioning frames closest in time: the nearest before, the nearest at/after, then by distance. */
export function selectClosestCondFrames(frame: number, condFrames: number[], max: number): { selected: number[]; unselected: number[] } {
  if (max === -1 || condFrames.length <= max) return { selected: [...condFrames], unselected: [] };
  const selected: number[] = [];
  const before = condFrames.filter((t) => t < frame);
  const after = condFrames.filter((t) => t >= frame);
  if (before.length) selected.push(Math.max(...before));
  if (after.length) selected.push(Math.min(...after));
  const rest = condFrames.filter((t) => !selected.includes(t)).sort((a, b) => Math.abs(a - frame) - Math.abs(b - frame));
  selected.push(...rest.slice(0, max - selected.length));
  return { selected, unselected: condFrames.filter((t) => !selected.includes(t)) };
}

/** Frame index `tRel` frames back (or ahead, in reverse) on the stride grid SAM 2 uses for recent memories. */
function recentFrameIndex(frame: number, tRel: number, stride: number, reverse: boolean): number {
  if (tRel === 1) return reverse ? frame + 1 : frame - 1;
  if (!reverse) return Math.floor((frame - 2) / stride) * stride - (tRel - 2) * stride;
  return -Math.floor(-(frame + 2) / stride) * stride + (tRel - 2) * stride;
}

/**
 * The memory SAM 2 attends to on a non-conditioning `frame`: selected conditioning frames (t_pos 0), the
 * last numMaskmem−1 stored frames (a missing one is skipped), and pointers from the conditioning frames
 * (optionally only past ones) plus up to maxObjPtrs−1 stored frames back.
 */
export function selectGreedyMemory(
  frame: number,
  condFrames: number[],
  hasNonCond: (frame: number) => boolean,
  o: GreedyMemoryOptions,
): GreedySelection {
  const { selected, unselected } = selectClosestCondFrames(frame, condFrames, o.maxCondFrames);
  const stored = (t: number): FrameChoice['cond'] | null => (hasNonCond(t) ? false : unselected.includes(t) ? true : null);

  const frames: FrameChoice[] = selected.map((t) => ({ frame: t, tpos: 0, cond: true }));
  for (let tpos = 1; tpos < o.numMaskmem; tpos++) {
    const t = recentFrameIndex(frame, o.numMaskmem - tpos, o.stride, o.reverse);
    const cond = stored(t);
    if (cond !== null) frames.push({ frame: t, tpos, cond });
  }

  const pointers: PointerChoice[] = [];
  if (o.useObjPtrs) {
    const sign = o.reverse ? -1 : 1;
    const ptrCond = o.onlyPastPointers ? selected.filter((t) => (o.reverse ? t >= frame : t <= frame)) : selected;
    for (const t of ptrCond) {
      pointers.push({ frame: t, cond: true, tdiff: o.signedTpos ? (frame - t) * sign : Math.abs(frame - t) });
    }
    for (let d = 1; d < o.maxObjPtrs; d++) {
      const t = o.reverse ? frame + d : frame - d;
      if (t < 0 || t >= o.numFrames) break;
      const cond = stored(t);
      if (cond !== null) pointers.push({ frame: t, cond, tdiff: d });
    }
  }
  return { frames, pointers };
}
