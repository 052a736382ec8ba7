/**
 * The entry index of a zip archive (yauzl parses the central directory), with synchronous random access to
 * each entry's bytes through a ByteSource. PyTorch stores entries uncompressed, so a storage is read straight
 * from its offset in the file; deflated entries (a re-zipped checkpoint) are inflated one at a time.
 */
import { inflateRawSync } from 'node:zlib';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { CheckpointFormatError } from '../errors.js';
import type { ByteSource } from './safetensors.js';

export interface ZipEntryInfo {
  name: string;
  /** Offset of the entry's (possibly compressed) data in the archive. */
  dataStart: number;
  compressedSize: number;
  size: number;
  deflated: boolean;
}

/** yauzl's view of a ByteSource. */
class SourceReader extends yauzl.RandomAccessReader {
  constructor(private readonly source: ByteSource) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
    let err: Error | null = null;
    try {
      buffer.set(this.source.read(position, length), offset);
    } catch (e) {
      err = e as Error;
    }
    process.nextTick(() => (err ? callback(err) : callback(null, length)));
  }

  override _readStreamForRange(start: number, end: number): Readable {
    const source = this.source;
    return new Readable({
      read() {
        try {
          this.push(Buffer.from(source.read(start, end - start)));
          this.push(null);
        } catch (e) {
          this.destroy(e as Error);
        }
      },
    });
  }
}

export class ZipArchive {
  /** Deflated entries inflated so far and their bytes: each entry is inflated at most once per `expectReads` round. */
  readonly stats = { inflatedEntries: 0, inflatedBytes: 0 };
  /** Reads still expected of a deflated entry (`expectReads`), and its inflated bytes while some are. */
  private readonly pending = new Map<string, number>();
  private readonly inflated = new Map<string, Uint8Array>();

  constructor(
    private readonly source: ByteSource,
    readonly entries: ReadonlyMap<string, ZipEntryInfo>,
    readonly label: string,
  ) {}

  get names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): ZipEntryInfo {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointFormatError(`${this.label}: the archive has no entry '${name}'`);
    return e;
  }

  /**
   * Announces `reads` reads of entry `name` (several tensors viewing one storage): a deflated entry is then
   * inflated once, at the first, and its bytes are kept until the last.
   */
  expectReads(name: string, reads: number): void {
    if (this.entry(name).deflated && reads > 1) this.pending.set(name, reads);
  }

  /** `length` bytes of entry `name` from `offset` (within the uncompressed data). */
  read(name: string, offset = 0, length?: number): Uint8Array {
    const e = this.entry(name);
    const len = length ?? e.size - offset;
    if (offset < 0 || len < 0 || offset + len > e.size) {
      throw new CheckpointFormatError(`${this.label}: entry '${name}' has ${e.size} bytes, cannot read ${len} at ${offset}`);
    }
    if (!e.deflated) return this.source.read(e.dataStart + offset, len);
    const bytes = this.inflated.get(name) ?? this.inflate(e);
    const left = (this.pending.get(name) ?? 1) - 1;
    if (left > 0) {
      this.pending.set(name, left);
      this.inflated.set(name, bytes);
    } else {
      this.pending.delete(name);
      this.inflated.delete(name);
    }
    return bytes.subarray(offset, offset + len);
  }

  /** Inflates a whole entry, stopping as soon as the output passes its declared size (so a bomb costs at most that). */
  private inflate(e: ZipEntryInfo): Uint8Array {
    let out: Buffer;
    try {
      out = inflateRawSync(this.source.read(e.dataStart, e.compressedSize), { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new CheckpointFormatError(`${this.label}: entry '${e.name}' inflates to more than the ${e.size} bytes the directory says`);
      }
      throw new CheckpointFormatError(`${this.label}: entry '${e.name}' does not inflate: ${(err as Error).message}`);
    }
    if (out.byteLength !== e.size) {
      throw new CheckpointFormatError(`${this.label}: entry '${e.name}' inflates to ${out.byteLength} bytes, the directory says ${e.size}`);
    }
    this.stats.inflatedEntries++;
    this.stats.inflatedBytes += out.byteLength;
    return out;
  }
}

/** Reads the central directory and every local header; any malformation is a CheckpointFormatError. */
export async function openZipArchive(source: ByteSource, label: string): Promise<ZipArchive> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(new SourceReader(source), source.size, { autoClose: false, strictFileNames: true });
  } catch (err) {
    throw new CheckpointFormatError(`${label}: not a zip archive (${(err as Error).message})`);
  }
  const entries = new Map<string, ZipEntryInfo>();
  try {
    for await (const entry of zip.eachEntry()) {
      if (entry.fileName.endsWith('/')) continue;
      entries.set(entry.fileName, await entryInfo(zip, entry, entries, source.size, label));
    }
  } catch (err) {
    if (err instanceof CheckpointFormatError) throw err;
    throw new CheckpointFormatError(`${label}: malformed zip archive (${(err as Error).message})`);
  } finally {
    zip.close();
  }
  return new ZipArchive(source, entries, label);
}

async function entryInfo(zip: yauzl.ZipFile, entry: yauzl.Entry, seen: Map<string, ZipEntryInfo>, archiveSize: number, label: string): Promise<ZipEntryInfo> {
  const where = `${label}: zip entry '${entry.fileName}'`;
  if (seen.has(entry.fileName)) throw new CheckpointFormatError(`${where} appears twice`);
  if (entry.isEncrypted()) throw new CheckpointFormatError(`${where} is encrypted`);
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw new CheckpointFormatError(`${where} uses compression method ${entry.compressionMethod} (only stored and deflate are read)`);
  }
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
  if (fileDataStart + entry.compressedSize > archiveSize) {
    throw new CheckpointFormatError(`${where}: its data runs past the end of the archive (truncated file?)`);
  }
  return {
    name: entry.fileName,
    dataStart: fileDataStart,
    compressedSize: entry.compressedSize,
    size: entry.uncompressedSize,
    deflated: entry.compressionMethod === 8,
  };
}
