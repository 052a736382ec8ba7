/** Helpers for writing the fused kernels' WGSL. */

/**
 * `n` statements from `line(i)`, written out. Mesa's llvmpipe (the software adapter CI runs) counts every loop
 * back-edge of an invocation against one budget of 65,535 and silently leaves all loops once it is spent, so
 * per-channel loops are unrolled in the source; on a GPU unrolling also saves the loop overhead.
 */
export function unroll(n: number, line: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => line(i)).join('\n');
}
