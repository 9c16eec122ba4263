// A real redis-server for the distributed tests: a free loopback port, no persistence, noeviction; killed after.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export interface TestRedis {
  url: string;
  port: number;
  /** Sends one command and returns the raw reply (enough for CONFIG SET, CLIENT KILL, FLUSHALL, KEYS). */
  command(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export const redisServerBin = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function send(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); resolve(data); }, 2_000);
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('data', (d) => {
      data += d.toString();
      // One reply is enough: a simple string, an error, an integer, or a complete bulk/array (good enough for tests).
      if (/^[+\-:]/.test(data) && data.endsWith('\r\n')) { clearTimeout(timer); sock.end(); resolve(data); }
      else if (/^[$*]/.test(data)) { clearTimeout(timer); setTimeout(() => { sock.end(); resolve(data); }, 50); }
    });
    sock.connect(port, '127.0.0.1', () => {
      sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const child: ChildProcess = spawn(redisServerBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => { out += d.toString(); });
    const up = await new Promise<boolean>((resolve) => {
      const started = Date.now();
      const poll = () => {
        if (child.exitCode !== null) { resolve(false); return; }
        send(port, ['PING']).then((r) => (r.startsWith('+PONG') ? resolve(true) : retry()), retry);
      };
      const retry = () => (Date.now() - started > 5_000 ? resolve(false) : setTimeout(poll, 50));
      poll();
    });
    if (!up) {
      child.kill('SIGKILL');
      if (tries < 2) continue;
      throw new Error(`redis-server did not start on port ${port}: ${out.slice(-500)}`);
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      command: (...args) => send(port, args),
      stop: () => new Promise<void>((resolve) => {
        if (child.exitCode !== null) { resolve(); return; }
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    };
  }
}
