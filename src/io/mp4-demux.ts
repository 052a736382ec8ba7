/** The first video track of an MP4/MOV file through mp4box.js: codec, decoder record and sample table. */
import { DataStream, Endianness, MP4BoxBuffer, createFile, type Movie, type Sample } from 'mp4box';
import { InputError } from '../errors.js';
import { displayOrderOf, type VideoTrackIndex } from './video-track.js';

/** The avcC/hvcC record a decoder needs (without its box header); VP9 and AV1 are fully described by their codec string. */
function decoderRecord(sample: Sample): Uint8Array | undefined {
  const entry = sample.description as { avcC?: { write(s: DataStream): void }; hvcC?: { write(s: DataStream): void } };
  const box = entry.avcC ?? entry.hvcC;
  if (!box) return undefined;
  const stream = new DataStream(undefined, 0, Endianness.BIG_ENDIAN);
  box.write(stream);
  const BOX_HEADER = 8;
  return new Uint8Array(stream.buffer.slice(BOX_HEADER));
}

/** `fileSize`: the whole file's size, where `bytes` holds its boxes without the media data. */
export function mp4Track(bytes: Uint8Array, label: string, fileSize = bytes.length): VideoTrackIndex {
  const file = createFile();
  let movie: Movie | undefined;
  let failure: string | undefined;
  file.onReady = (info) => { movie = info; };
  file.onError = (module: string, message: string) => { failure = `${module}: ${message}`; };
  const buffer = MP4BoxBuffer.fromArrayBuffer(bytes.slice().buffer, 0);
  try {
    file.appendBuffer(buffer);
    file.flush();
  } catch (err) {
    throw new InputError(`${label}: not a readable MP4 file (${(err as Error).message})`);
  }
  if (!movie) throw new InputError(`${label}: not a readable MP4 file (${failure ?? 'no movie header: is the file complete?'})`);
  const track = movie.videoTracks[0];
  if (!track) throw new InputError(`${label}: the MP4 file has no video track`);
  const table = file.getTrackSamplesInfo(track.id);
  if (table.some((s) => s.offset + s.size > fileSize)) {
    throw new InputError(`${label}: the file is cut short (its frames reach past its ${fileSize} bytes)`);
  }
  const us = (t: number, scale: number) => Math.round((t * 1e6) / scale);
  const samples = table.map((s) => ({
    offset: s.offset, size: s.size, timestamp: us(s.cts, s.timescale), duration: us(s.duration, s.timescale), key: s.is_sync,
  }));
  return {
    container: 'mp4',
    codec: track.codec,
    description: table.length ? decoderRecord(table[0]) : undefined,
    width: track.video?.width ?? track.track_width,
    height: track.video?.height ?? track.track_height,
    samples,
    displayOrder: displayOrderOf(samples),
  };
}
