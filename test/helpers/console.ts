/** Captures console.log / console.error output while `fn` runs (for tests of CLI commands run in-process). */
export async function quietly<T>(fn: () => Promise<T>): Promise<{ result: T; out: string; err: string }> {
  const saved = { log: console.log, error: console.error };
  let out = '';
  let err = '';
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  try {
    return { result: await fn(), out, err };
  } finally {
    Object.assign(console, saved);
  }
}
