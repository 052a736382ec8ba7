/**
 * Dataset throughput over the BullMQ queue: videos per hour on the golden VOS dataset (copied `--copies` times,
 * so each run has several videos) with 1, 2, ... `sam2long worker` processes on this machine. Not part of
 * `npm test`:
 *
 *   npm run bench:vos -- [--workers 1,2] [--copies 2] [--tree P] [--out results.json]
 *
 * Each worker count gets a fresh Redis (Debian's redis-server on a free local port) and a fresh output folder;
 * the time runs from the submission to the last finished video, worker start-up and model loading included.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/helpers/redis.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GOLDEN = path.join(REPO, 'test/fixtures/golden');

const { values } = parseArgs({
  options: { workers: { type: 'string', default: '1,2' }, copies: { type: 'string', default: '2' }, tree: { type: 'string' }, out: { type: 'string' } },
});
const workerCounts = values.workers.split(',').map(Number);
const copies = Number(values.copies);
if (workerCounts.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(copies) || copies < 1) {
  console.error('usage: npm run bench:vos -- [--workers 1,2] [--copies 2] [--tree P] [--out file.json]');
  process.exit(2);
}

/** The golden dataset's clips, `copies` times each (frames linked, not copied). */
function dataset(root: string): { videos: string; masks: string; count: number } {
  const videos = path.join(root, 'JPEGImages');
  const masks = path.join(root, 'Annotations');
  let count = 0;
  for (let c = 0; c < copies; c++) {
    for (const clip of ['clipA', 'clipB']) {
      fs.mkdirSync(path.join(videos, `${clip}-${c}`), { recursive: true });
      for (const f of fs.readdirSync(path.join(GOLDEN, 'vos/data/JPEGImages', clip))) {
        fs.symlinkSync(path.join(GOLDEN, 'vos/data/JPEGImages', clip, f), path.join(videos, `${clip}-${c}`, f));
      }
      fs.cpSync(path.join(GOLDEN, 'vos/data/Annotations', clip), path.join(masks, `${clip}-${c}`), { recursive: true });
      count++;
    }
  }
  return { videos, masks, count };
}

function cli(args: string[], stdio: 'ignore' | 'inherit' = 'ignore'): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'tools/cli.ts'), ...args], { cwd: REPO, stdio });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sam2long-bench-vos-'));
const results: { workers: number; videos: number; seconds: number; videosPerHour: number }[] = [];
try {
  const data = dataset(path.join(tmp, 'data'));
  for (const n of workerCounts) {
    const redis = await startRedis();
    try {
      const workers = Array.from({ length: n }, () => cli(['worker', '--queue', redis.url, '--quiet']));
      const t0 = performance.now();
      const submit = cli(['vos', '--model', path.join(GOLDEN, 'sam21_mini_b.pt'), '--config', path.join(GOLDEN, 'sam21_mini_b.config.json'),
        '--videos', data.videos, '--masks', data.masks, '--out', path.join(tmp, `out-${n}`), '--queue', redis.url, '--quiet',
        ...(values.tree ? ['--tree', values.tree] : [])], 'inherit');
      const code = await exited(submit);
      const seconds = (performance.now() - t0) / 1000;
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map(exited));
      if (code !== 0) throw new Error(`vos --queue exited with ${code}`);
      results.push({ workers: n, videos: data.count, seconds, videosPerHour: (data.count / seconds) * 3600 });
      console.log(`${n} worker(s): ${data.count} videos in ${seconds.toFixed(1)} s = ${((data.count / seconds) * 3600).toFixed(0)} videos/hour`);
    } finally {
      await redis.stop();
    }
  }
  const report = { date: new Date().toISOString(), cpus: os.cpus().length, loadAverage: os.loadavg(), mode: values.tree ? `sam2long P=${values.tree}` : 'sam2', results };
  if (values.out) fs.writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
