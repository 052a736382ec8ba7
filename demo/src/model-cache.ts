/**
 * Downloading large files (checkpoints of 150–900 MB) with progress in bytes, kept in the browser's Cache
 * Storage so a reload reads them from disk instead of the network. A cached copy is used only when it is
 * whole (its size matches the size stored with it); a download that ends early is an error, never cached.
 */

export interface DownloadProgress {
  loaded: number;
  /** Bytes expected (Content-Length), when the server says. */
  total: number | undefined;
  fromCache: boolean;
}

export interface CachedDownload {
  bytes: Uint8Array;
  fromCache: boolean;
  /** Whether the bytes are now in the cache (false where Cache Storage is unavailable, e.g. over plain http). */
  cached: boolean;
}

export const MODEL_CACHE = 'sam2long-models-v1';
/** Header stored with a cached file: its byte count, checked when it is read back. */
const SIZE_HEADER = 'x-sam2long-bytes';

export class DownloadError extends Error {}

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(MODEL_CACHE);
  } catch {
    return null;
  }
}

/** Reads a response body to the end, reporting progress; the length must match `total` when it is known. */
async function readBody(res: Response, url: string, fromCache: boolean, onProgress?: (p: DownloadProgress) => void): Promise<Uint8Array> {
  const header = Number(res.headers.get(fromCache ? SIZE_HEADER : 'Content-Length'));
  // A compressed transfer's Content-Length counts compressed bytes: no total then.
  const total = Number.isFinite(header) && header > 0 && !res.headers.get('Content-Encoding') ? header : undefined;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(await res.arrayBuffer());
  let buffer = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  onProgress?.({ loaded, total, fromCache });
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw new DownloadError(`${url}: the download broke off after ${loaded} bytes (${(err as Error).message})`);
    }
    if (chunk.done) break;
    if (loaded + chunk.value.length > buffer.length) {
      if (total !== undefined) throw new DownloadError(`${url}: the server sent more than the ${total} bytes it announced`);
      const grown = new Uint8Array(Math.max(buffer.length * 2, loaded + chunk.value.length));
      grown.set(buffer.subarray(0, loaded));
      buffer = grown;
    }
    buffer.set(chunk.value, loaded);
    loaded += chunk.value.length;
    onProgress?.({ loaded, total, fromCache });
  }
  if (total !== undefined && loaded !== total) {
    throw new DownloadError(`${url}: the download ended after ${loaded} of ${total} bytes; try again`);
  }
  return loaded === buffer.length ? buffer : buffer.slice(0, loaded);
}

/**
 * The bytes at `url`: from the cache when a whole copy is there, else downloaded (with progress) and cached.
 * `check` vets downloaded bytes before they are cached (a file that is not what was expected stays out).
 */
export async function fetchCached(
  url: string,
  options: { onProgress?: (p: DownloadProgress) => void; check?: (bytes: Uint8Array) => void } = {},
): Promise<CachedDownload> {
  const key = new URL(url, location.href).href;
  const cache = await openCache();
  const hit = await cache?.match(key);
  if (hit) {
    try {
      const bytes = await readBody(hit, url, true, options.onProgress);
      options.check?.(bytes);
      return { bytes, fromCache: true, cached: true };
    } catch {
      // A damaged or stale copy: drop it and download again.
      await cache?.delete(key);
    }
  }
  let res: Response;
  try {
    res = await fetch(key);
  } catch (err) {
    throw new DownloadError(`cannot download ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) throw new DownloadError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`.trim());
  const bytes = await readBody(res, url, false, options.onProgress);
  options.check?.(bytes);
  let cached = false;
  if (cache) {
    try {
      const headers = { 'Content-Type': 'application/octet-stream', [SIZE_HEADER]: String(bytes.length) };
      await cache.put(key, new Response(new Blob([bytes as BlobPart]), { headers }));
      cached = true;
    } catch {
      // Over quota or private browsing: the page works, it will just download again next time.
    }
  }
  return { bytes, fromCache: false, cached };
}

/** Whether `url` has a copy in the cache (without reading it). */
export async function isCached(url: string): Promise<boolean> {
  const cache = await openCache();
  return !!(await cache?.match(new URL(url, location.href).href));
}

/** Removes every cached download; resolves to whether there was a cache to remove. */
export function clearModelCache(): Promise<boolean> {
  return typeof caches === 'undefined' ? Promise.resolve(false) : caches.delete(MODEL_CACHE);
}

/** "12.3 MB" / "1.20 GB": sizes for progress text. */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}
