/**
 * A server for browser tests on 127.0.0.1: a built page from a folder, files held in memory by URL path,
 * every request counted (to see what a page fetched twice), and paths that break off mid-download.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/** Files the test serves, by URL path; every request is counted. */
export class TestServer {
  readonly files = new Map<string, { body: Uint8Array; type: string }>();
  readonly requests: string[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  url = '';

  /** `headers` go with every response (the demo's COOP + COEP). */
  constructor(private readonly root: string, private readonly headers: Record<string, string> = {}) {}

  /** Paths whose response announces the whole body but sends half, then drops the connection. */
  readonly broken = new Set<string>();

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push(rel);
    const cut = this.broken.has(rel) && this.files.get(rel);
    if (cut) {
      res.writeHead(200, { ...this.headers, 'Content-Type': cut.type, 'Content-Length': cut.body.length });
      res.write(cut.body.subarray(0, cut.body.length >> 1), () => res.destroy());
      return;
    }
    const served = this.files.get(rel);
    if (served) {
      res.writeHead(200, { ...this.headers, 'Content-Type': served.type, 'Content-Length': served.body.length }).end(served.body);
      return;
    }
    const file = path.join(this.root, rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!file.startsWith(this.root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' }[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, { ...this.headers, 'Content-Type': type }).end(fs.readFileSync(file));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
