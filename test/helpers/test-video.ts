/**
 * The test clips in test/fixtures/video/ (made by test/fixtures/make-test-videos.ts): 12 solid-colour frames,
 * 64×48 at 10 fps, frame k filled with FRAME_COLOURS[k], so a decoded frame's identity is its colour.
 */
export const TEST_VIDEO = { width: 64, height: 48, fps: 10, frames: 12, keyframeInterval: 4 } as const;

/** Well apart in RGB and inside YUV's limited range, so each survives 4:2:0 coding and conversion back. */
export const FRAME_COLOURS: readonly (readonly [number, number, number])[] = [
  [200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40], [200, 40, 200], [40, 200, 200],
  [120, 120, 120], [220, 220, 220], [40, 40, 40], [220, 130, 40], [130, 40, 220], [40, 220, 130],
];

/** The index of the frame colour nearest to `rgb`, and its distance (max over channels). */
export function nearestFrame(rgb: readonly number[]): { frame: number; distance: number } {
  let best = { frame: -1, distance: Infinity };
  FRAME_COLOURS.forEach((c, frame) => {
    const distance = Math.max(...c.map((v, i) => Math.abs(v - rgb[i])));
    if (distance < best.distance) best = { frame, distance };
  });
  return best;
}
