// A worker's entry when running from the TypeScript sources: Node 20 does not pass the parent's tsx hooks
// to worker threads, so this registers tsx in the worker first, then loads the .ts entry (workerData.entry).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
