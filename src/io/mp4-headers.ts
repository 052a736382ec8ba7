/** Reading an MP4 file's structure without its media data, from a Blob (a File in a page), a slice at a time. */

/** Boxes an MP4 reader skips: the media data, read later frame by frame, and padding. */
const MP4_SKIPPED = new Set(['mdat', 'free', 'skip', 'wide']);

/**
 * An MP4 file's top-level boxes without its media data (a few hundred kB for hours of video), or null where
 * the file must be read whole: not an MP4, a fragmented one (its sample tables are spread through it), a damaged one.
 */
export async function mp4Headers(file: Blob): Promise<Uint8Array | null> {
  const parts: Uint8Array[] = [];
  for (let pos = 0; pos < file.size;) {
    const head = new DataView(await file.slice(pos, pos + 16).arrayBuffer());
    if (head.byteLength < 8) return null;
    const type = String.fromCharCode(...new Uint8Array(head.buffer, 4, 4));
    const small = head.getUint32(0);
    const size = small === 1 && head.byteLength >= 16 ? Number(head.getBigUint64(8)) : small === 0 ? file.size - pos : small;
    if (size < 8 || type === 'moof' || (pos === 0 && type !== 'ftyp')) return null;
    if (!MP4_SKIPPED.has(type)) parts.push(new Uint8Array(await file.slice(pos, pos + size).arrayBuffer()));
    pos += size;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}
