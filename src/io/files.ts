/** Node-only file access for the io layer: random-access byte sources and streamed writes. */
import * as fs from 'node:fs';
import { SafetensorsReader, encodeSafetensors, type ByteSource, type TensorToWrite } from './safetensors.js';
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

/** Writes tensors as a safetensors file, chunk by chunk (never the whole file in one buffer). */
export function writeSafetensorsFile(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const tmp = `${path}.partial`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const chunk of encodeSafetensors(tensors, metadata)) fs.writeSync(fd, chunk);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
}
