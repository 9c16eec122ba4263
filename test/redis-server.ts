// A real redis-server for the distributed tests: a free loopback port, no persistence, noeviction; killed after.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, Socket } from 'node:net';

export interface TestRedis {
  url: string;
  port: number;
  /** Sends one command and returns the raw reply (enough for CONFIG SET, CLIENT KILL, FLUSHALL, KEYS). */
  command(...args: string[]): Promise<string>;
  /** Kills the server, waits `downMs`, starts a new one (empty: no persistence) on the same port. */
  restart(downMs: number): Promise<void>;
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

async function spawnServer(port: number): Promise<ChildProcess | undefined> {
  const child: ChildProcess = spawn(redisServerBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'ignore', 'ignore'] });
  const up = await new Promise<boolean>((resolve) => {
    const started = Date.now();
    const poll = () => {
      if (child.exitCode !== null) { resolve(false); return; }
      send(port, ['PING']).then((r) => (r.startsWith('+PONG') ? resolve(true) : retry()), retry);
    };
    const retry = () => (Date.now() - started > 5_000 ? resolve(false) : setTimeout(poll, 50));
    poll();
  });
  if (up) return child;
  child.kill('SIGKILL');
  return undefined;
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function startRedis(): Promise<TestRedis> {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    let child = await spawnServer(port);
    if (!child) {
      if (tries < 2) continue;
      throw new Error(`redis-server (${redisServerBin}) did not start on port ${port}`);
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      command: (...args) => send(port, args),
      restart: async (downMs) => {
        await kill(child!);
        await new Promise((r) => setTimeout(r, downMs));
        child = await spawnServer(port);
        if (!child) throw new Error(`redis-server did not start again on port ${port}`);
      },
      stop: () => (child ? kill(child) : Promise.resolve()),
    };
  }
}
