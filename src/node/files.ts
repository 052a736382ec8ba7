/** Checkpoint files (Node): random-access byte sources over files, streamed safetensors writes, `.pt` files opened in place. */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import {
  SafetensorsReader, checkTensorBytes, encodeSafetensors, encodeSafetensorsHeader, type ByteSource, type TensorHeaderSpec, type TensorToWrite,
} from '../io/safetensors.js';
import { readTorchCheckpoint, type TorchCheckpoint } from '../io/torch-checkpoint.js';
import { CheckpointFormatError } from '../errors.js';

/** A ByteSource over an open file; each read copies only the bytes asked for. */
export function fileSource(path: string): ByteSource & { close(): void } {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw new CheckpointFormatError(`cannot open '${path}': ${(err as Error).message}`);
  }
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > size) {
        throw new CheckpointFormatError(`'${path}': read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw new CheckpointFormatError(`'${path}': file ended early at ${offset + done}`);
        done += n;
      }
      return out;
    },
    close: () => fs.closeSync(fd),
  };
}

/** Opens a safetensors file for random access; close it with `reader.close()`. */
export function openSafetensors(path: string): SafetensorsReader & { close(): void } {
  const source = fileSource(path);
  try {
    return Object.assign(new SafetensorsReader(source, path), { close: source.close });
  } catch (err) {
    source.close();
    throw err;
  }
}

/**
 * `fs.mkdirSync(dir, { recursive: true })` that fails with the true reason: Node's recursive mkdir reports ENOENT
 * where the file system refused to create the directory (EROFS on a read-only disk, EACCES), so on ENOENT the first
 * missing directory is created once more on its own, which throws the real error.
 */
export function makeDirectory(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let missing = nodePath.resolve(dir);
    while (!fs.existsSync(nodePath.dirname(missing))) missing = nodePath.dirname(missing);
    fs.mkdirSync(missing);
    throw err;
  }
}

/**
 * Writes a file whose bytes `fill` hands to `write` in order, so that a file under its final name is always
 * complete: written as `<path>.partial`, flushed to disk (fsync), then renamed to `path`. With `rename: false`
 * it is written to `path` itself, for a caller that renames several files together. A failed write (a full or
 * read-only disk, an error thrown by `fill`) removes what it wrote and rethrows the error.
 */
export function writeFileAtomically(
  path: string,
  fill: (write: (bytes: Uint8Array) => void) => void,
  { rename = true }: { rename?: boolean } = {},
): void {
  const tmp = rename ? `${path}.partial` : path;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    const out = fd;
    fill((bytes) => {
      // writeSync may write less than asked (a signal, a nearly full disk): write the rest.
      for (let done = 0; done < bytes.length;) done += fs.writeSync(out, bytes, done, bytes.length - done);
    });
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    if (rename) fs.renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // the write's own error is the one to report
      }
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes tensors as a safetensors file, chunk by chunk (never the whole file in one buffer), atomically (writeFileAtomically). */
export function writeSafetensorsFile(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  writeFileAtomically(path, (write) => {
    for (const chunk of encodeSafetensors(tensors, metadata)) write(chunk);
  });
}

/**
 * Writes a safetensors file whose tensors are produced one at a time by `dataOf` (called in order, after the
 * header is written), so only one tensor's data is in memory. Atomic as writeFileAtomically, whose `rename`
 * option it takes.
 */
export function writeSafetensorsStreamed(
  path: string,
  tensors: TensorHeaderSpec[],
  dataOf: (t: TensorHeaderSpec, index: number) => Uint8Array,
  metadata?: Record<string, string>,
  options: { rename?: boolean } = {},
): void {
  writeFileAtomically(path, (write) => {
    write(encodeSafetensorsHeader(tensors, metadata));
    tensors.forEach((t, i) => {
      const bytes = dataOf(t, i);
      checkTensorBytes(t, bytes);
      write(bytes);
    });
  }, options);
}

/** Opens a checkpoint file; its data stays on disk until read. Close it with `close()`. */
export async function openTorchCheckpoint(path: string): Promise<TorchCheckpoint & { close(): void }> {
  const source = fileSource(path);
  try {
    return Object.assign(await readTorchCheckpoint(source, path), { close: source.close });
  } catch (err) {
    source.close();
    throw err;
  }
}
