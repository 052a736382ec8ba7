/**
 * Multi-object masks that do not overlap, as the official dataset scripts make them: sam2's
 * `SAM2Base._apply_non_overlapping_constraints` (sam2/modeling/sam2_base.py), which `tools/vos_inference.py`
 * turns on with `non_overlap_masks = true`. At each pixel only the object with the highest logit keeps its
 * logit; every other object's logit there is clamped to at most −10. The masks are then the logits above the
 * score threshold (0). Pure functions over host arrays: no tensors, no I/O.
 */

/** What the losers' logits are clamped to (at most). */
export const NON_OVERLAP_CLAMP = -10;

/** Logits of objects with no output on a frame (not started yet), as the official per-object script fills them. */
export const NOT_STARTED_LOGIT = -1024;

/**
 * The non-overlap constraint over the objects' logits of one frame (each the same length, e.g. H·W at video
 * resolution). Ties go to the first object, as `torch.argmax` does. One object is returned as it is.
 */
export function applyNonOverlap(logits: readonly Float32Array[]): Float32Array[] {
  if (logits.length <= 1) return logits.map((l) => l.slice());
  const n = logits[0].length;
  for (const l of logits) if (l.length !== n) throw new RangeError(`applyNonOverlap: logits of ${l.length} and ${n} values`);
  const out = logits.map((l) => l.slice());
  for (let p = 0; p < n; p++) {
    let best = 0;
    for (let o = 1; o < out.length; o++) if (out[o][p] > out[best][p]) best = o;
    for (let o = 0; o < out.length; o++) if (o !== best && out[o][p] > NON_OVERLAP_CLAMP) out[o][p] = NON_OVERLAP_CLAMP;
  }
  return out;
}

/** `logits > threshold` as 0/1 bytes. */
export function thresholdLogits(logits: Float32Array, threshold = 0): Uint8Array {
  const mask = new Uint8Array(logits.length);
  for (let p = 0; p < logits.length; p++) mask[p] = logits[p] > threshold ? 1 : 0;
  return mask;
}

/** Binary masks of the objects of one frame with the official non-overlap rule applied (see the file comment). */
export function nonOverlappingMasks(logits: readonly Float32Array[], threshold = 0): Uint8Array[] {
  return applyNonOverlap(logits).map((l) => thresholdLogits(l, threshold));
}
