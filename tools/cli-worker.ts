/** `sam2long worker`: takes the video jobs of `sam2long vos --queue` from Redis until stopped. */
import { EXIT, InputError } from '../src/index.js';
import { QueueWorker } from '../src/node/vos/queue-worker.js';
import { redisConnection } from '../src/node/vos/queue.js';
import { parseCommandArgs, parseInteger, parseNumber, required } from './cli-args.js';

export const USAGE = `usage: sam2long worker --queue redis://host:port[/db] [--concurrency <n>] [--lock-seconds <s>]

Processes the jobs that \`sam2long vos ... --queue <url>\` submits: one video per job, each written to its
output folder as \`sam2long vos\` writes it (the paths in the jobs must be reachable from this machine: use
storage every worker shares, mounted at the same path). Start as many workers as you like, on any machine
that reaches the Redis server; a video is taken by one worker at a time.

  --queue <url>          the Redis server holding the queue
  --concurrency <n>      videos at once (default 1); each runs in its own thread with its own copy of the model
  --lock-seconds <s>     a worker that dies (killed, machine lost) holds its video this long before the video
                         goes back to the queue for another worker (default 60). A live worker renews its lock
                         every half of this from a thread that tracking never blocks, so long videos are fine.

SIGINT / SIGTERM: stop taking jobs, finish the current video(s), exit. A second signal stops at once; an
unfinished video then goes back to the queue when its lock lapses, and its partial output is never mistaken
for a finished one.`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs({
    args: argv,
    options: {
      queue: { type: 'string' }, concurrency: { type: 'string' }, 'lock-seconds': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
    strict: true,
  });
  const url = required(values.queue, '--queue');
  redisConnection(url);
  const concurrency = values.concurrency !== undefined ? parseInteger(values.concurrency, '--concurrency', 1, 64) : 1;
  const lockSeconds = values['lock-seconds'] !== undefined ? parseNumber(values['lock-seconds'], '--lock-seconds') : 60;
  if (!(lockSeconds >= 1)) throw new InputError(`--lock-seconds: ${lockSeconds} must be ≥ 1`);
  const log = (line: string) => {
    if (!values.quiet) console.error(`sam2long worker ${process.pid}: ${line}`);
  };
  const worker = new QueueWorker({
    url, concurrency, lockMs: Math.round(lockSeconds * 1000),
    onEvent: (e) => {
      if (e.type === 'start') log(`video ${e.video}: started`);
      if (e.type === 'model') log(`model loaded in ${e.seconds?.toFixed(1)} s (kept for the next videos)`);
      if (e.type === 'done') log(`video ${e.video}: ${e.record?.status === 'skipped' ? 'already complete' : `done, ${e.record?.frames} frames in ${e.record?.seconds.toFixed(1)} s`}`);
      if (e.type === 'failed') log(`video ${e.video}: failed: ${e.error}`);
    },
  });
  let signals = 0;
  const stop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      // Whatever the state (a video mid-way, Redis unreachable): out now. The video's lock lapses and another
      // worker takes it; its partial folder is never mistaken for a finished one.
      log(`${signal}: stopping now`);
      process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
    }
    log(`${signal}: finishing the current video(s), then stopping (again to stop now)`);
    worker.close().catch((err) => log(`stopping: ${(err as Error).message}`));
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  log(`waiting for jobs (concurrency ${concurrency})`);
  try {
    await worker.run();
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop);
  }
  log('stopped');
  return 0;
}
