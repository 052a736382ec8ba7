/**
 * `np.mean` of a float64 vector, bit for bit: numpy sums with its pairwise algorithm (8 accumulators over
 * blocks of at most 128 values, halves above that), then divides by the count. A plain left-to-right sum
 * differs from it in the last bits once there are 8 or more values.
 */

const BLOCK = 128;
const LANES = 8;

/** numpy's pairwise summation of values[start, start + n). */
function pairwiseSum(values: readonly number[], start: number, n: number): number {
  if (n < LANES) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[start + i];
    return sum;
  }
  if (n <= BLOCK) {
    const lanes = values.slice(start, start + LANES);
    let i = LANES;
    for (; i < n - (n % LANES); i += LANES) {
      for (let k = 0; k < LANES; k++) lanes[k] += values[start + i + k];
    }
    let sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < n; i++) sum += values[start + i];
    return sum;
  }
  const half = Math.floor(n / 2) - (Math.floor(n / 2) % LANES);
  return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half);
}

/** The sum numpy's `np.sum` gives for a contiguous float64 vector. */
export function numpySum(values: readonly number[]): number {
  return pairwiseSum(values, 0, values.length);
}

/** The mean numpy's `np.mean` gives for a contiguous float64 vector; NaN when empty, as numpy's is. */
export function numpyMean(values: readonly number[]): number {
  return numpySum(values) / values.length;
}
