/**
 * The container readers behind the page's frame-accurate decoding: the test clips (H.264 with B-frames in MP4,
 * VP9 in WebM; test/helpers/test-video.ts) give every frame once, keyframes where ffmpeg put them, display
 * order from the timestamps; ffprobe, where installed, agrees on each frame's time; damaged files get clear errors.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../src/errors.js';
import { mp4Headers } from '../src/io/mp4-headers.js';
import { demuxVideo, demuxVideoFile } from '../src/io/video-container.js';
import { frameRate } from '../src/io/video-track.js';
import { webmTrackOfBlob } from '../src/io/webm-demux.js';
import { TEST_VIDEO } from './helpers/test-video.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/video');
const CLIPS = { 'colours-h264.mp4': /^avc1\.4d/, 'colours-vp9.webm': /^vp09\.00\./ };

/** Packet presentation times (µs, sorted) and key flags in decode order, as ffprobe reads them; null without ffprobe. */
function ffprobePackets(file: string): { times: number[]; keys: boolean[] } | null {
  let out: string;
  try {
    out = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  } catch {
    return null;
  }
  const rows = out.trim().split('\n').map((l) => l.split(','));
  return { times: rows.map((r) => Math.round(Number(r[0]) * 1e6)).sort((a, b) => a - b), keys: rows.map((r) => r[1].startsWith('K')) };
}

describe('video containers (MP4 through mp4box, WebM through the EBML reader)', () => {
  for (const [name, codec] of Object.entries(CLIPS)) {
    it(`${name}: every frame, its keyframes, display order and codec`, () => {
      const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, name)));
      const track = demuxVideo(bytes, name);
      assert.match(track.codec, codec);
      assert.equal(track.width, TEST_VIDEO.width);
      assert.equal(track.height, TEST_VIDEO.height);
      assert.equal(track.samples.length, TEST_VIDEO.frames);
      assert.deepEqual([...track.displayOrder].sort((a, b) => a - b), track.samples.map((_, i) => i));
      const times = track.displayOrder.map((s) => track.samples[s].timestamp);
      times.slice(1).forEach((t, i) => assert.ok(t > times[i], `display times not increasing: ${times.join(', ')}`));
      assert.ok(Math.abs(frameRate(track) - TEST_VIDEO.fps) < 0.01, `frame rate ${frameRate(track)}`);
      const keyframes = track.displayOrder.flatMap((s, f) => (track.samples[s].key ? [f] : []));
      assert.deepEqual(keyframes, Array.from({ length: TEST_VIDEO.frames / TEST_VIDEO.keyframeInterval }, (_, i) => i * TEST_VIDEO.keyframeInterval));
      for (const s of track.samples) assert.ok(s.size > 0 && s.offset + s.size <= bytes.length);
      if (track.container === 'mp4') assert.ok(track.description && track.description[0] === 1, 'the avcC record (version 1)');
      const probe = ffprobePackets(path.join(DIR, name));
      if (probe) {
        // Same spacing as ffprobe (which shifts MP4 times by the edit list) and the same key flags in decode order.
        assert.deepEqual(times.map((t) => t - times[0]), probe.times.map((t) => t - probe.times[0]));
        assert.deepEqual(track.samples.map((s) => s.key), probe.keys);
      }
      if (name.endsWith('.mp4')) {
        const bframes = track.displayOrder.some((s, f) => s !== f);
        assert.ok(bframes, 'the H.264 clip should have B-frames (decode order ≠ display order)');
      }
    });

    it(`${name}: a file cut short or not a video gets a clear error`, () => {
      const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, name)));
      assert.throws(() => demuxVideo(bytes.subarray(0, 40), name), (e: Error) => e instanceof InputError && /cut short|not a readable|complete/.test(e.message));
    });
  }

  it('reads an MP4 from its boxes without the media data, as a page reads a large file', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, 'colours-h264.mp4')));
    const headers = await mp4Headers(new Blob([bytes]));
    assert.ok(headers && headers.length < bytes.length / 2, `headers ${headers?.length} of ${bytes.length} bytes`);
    assert.deepEqual(demuxVideo(headers, 'clip', bytes.length), demuxVideo(bytes, 'clip'));
    assert.equal(await mp4Headers(new Blob([fs.readFileSync(path.join(DIR, 'colours-vp9.webm'))])), null, 'not an MP4');
    assert.throws(() => demuxVideo(headers, 'clip', bytes.length - 100), /clip: the file is cut short/);
  });

  it('reads a WebM a window at a time to the same track as from the whole file, whatever the window', async () => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(DIR, 'colours-vp9.webm')));
    const whole = demuxVideo(bytes, 'clip');
    for (const window of [1, 13, 37, 100, 333, 1 << 20]) {
      assert.deepEqual(await webmTrackOfBlob(new Blob([bytes]), 'clip', window), whole, `window of ${window} bytes`);
    }
    assert.deepEqual(await demuxVideoFile(new Blob([bytes]), 'clip'), whole);
    await assert.rejects(webmTrackOfBlob(new Blob([bytes.subarray(0, 40)]), 'clip', 16), /clip: the file is cut short/);
    const mp4 = new Uint8Array(fs.readFileSync(path.join(DIR, 'colours-h264.mp4')));
    assert.deepEqual(await demuxVideoFile(new Blob([mp4]), 'clip'), demuxVideo(mp4, 'clip'));
  });

  it('rejects bytes of no known container', () => {
    assert.throws(() => demuxVideo(new TextEncoder().encode('hello, this is text'), 'notes.txt'), /notes\.txt: not an MP4 or WebM file/);
  });
});
