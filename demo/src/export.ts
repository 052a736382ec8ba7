/**
 * The masks download: a zip of the frames whose masks are valid, with a README.txt that says whether the
 * export is complete and lists the frames left out (stale after a correction, provisional, never tracked).
 * A partial export says so in its file name too.
 */
import { zipSync } from 'fflate';
import { labelPng } from './masks.js';
import type { TrackingSession } from './session.js';

export interface MasksExport {
  zip: Uint8Array;
  fileName: string;
  complete: boolean;
  frames: number;
}

/** "0-3, 7, 9-12" (1-based, as the page shows frames). */
function ranges(frames: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < frames.length; i++) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j] + 1) j++;
    out.push(i === j ? `${frames[i] + 1}` : `${frames[i] + 1}-${frames[j] + 1}`);
    i = j;
  }
  return out.join(', ') || 'none';
}

export function exportMasks(session: TrackingSession, video: { label: string; width: number; height: number }): MasksExport {
  const byState: Record<string, number[]> = { exported: [], stale: [], provisional: [], missing: [] };
  const files: Record<string, Uint8Array> = {};
  for (let f = 0; f < session.numFrames; f++) {
    const s = session.status.get(f);
    if (session.isFresh(f)) {
      byState.exported.push(f);
      const name = session.names.get(f) ?? String(f).padStart(5, '0');
      files[`masks/${name}.png`] = labelPng(session.labelsOn(f) as Uint8Array, video.width, video.height);
    } else {
      byState[s === 'stale' || s === 'provisional' ? s : 'missing'].push(f);
    }
  }
  const complete = session.complete;
  const objects = [...session.objects].map(([id, name]) => `  ${id}: ${name}`);
  files['README.txt'] = new TextEncoder().encode([
    `SAM2Long masks of ${video.label}: ${complete ? 'COMPLETE' : 'PARTIAL'}`,
    `${byState.exported.length} of ${session.numFrames} frames exported (frames are numbered from 1); last run: ${session.lastMode}.`,
    '',
    `exported:    ${ranges(byState.exported)}`,
    `stale:       ${ranges(byState.stale)} (tracked before a correction or change; press Propagate to re-track)`,
    `provisional: ${ranges(byState.provisional)} (SAM2Long had not settled them when tracking stopped)`,
    `not tracked: ${ranges(byState.missing)}`,
    '',
    'masks/<frame>.png: palette PNGs (DAVIS layout), pixel value = object id, 0 = background. Objects:',
    ...objects,
    '',
  ].join('\n'));
  const stem = video.label.replace(/\.[^.]*$/, '');
  return {
    zip: zipSync(files, { level: 0 }),
    fileName: `${stem}-masks${complete ? '' : `-partial-${byState.exported.length}of${session.numFrames}`}.zip`,
    complete,
    frames: byState.exported.length,
  };
}
