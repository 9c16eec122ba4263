// The sandbox, end to end: each kind of access is refused without its flag (PERMISSION_DENIED naming the flag,
// no retries) and works with it. Every run is the real CLI in a temp project outside the repo.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupProjects, jsonLines, makeProject, runCli, writeFile, writePipeline } from './helpers.js';

afterAll(cleanupProjects);

interface ItemEvent { type: 'item'; id: string; status: 'done' | 'failed'; attempts: number; error?: { code: string; message: string; category: string; file?: string; line?: number } }
interface OutLine { id: string; result: unknown }

let server: http.Server;
let port = 0;
beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('pong'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/**
 * One pipeline that tries one kind of access per record: read, write, fetch, http.get, net.connect, an env
 * variable, a child process. `extra` adds to the definition (a `permissions` block, say).
 */
function probeProject(extra: (paths: { secret: string; target: string }) => string = () => '') {
  const dir = makeProject('pt-perm-');
  const outside = makeProject('pt-perm-outside-');
  const secret = writeFile(outside, 'secret.txt', 'top secret\n');
  const target = path.join(outside, 'written', 'note.txt');
  mkdirSync(path.dirname(target), { recursive: true });
  writePipeline(dir, 'pipelines/probe.ts', `
import { definePipeline } from 'pipeline-tui';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';

interface Probe { id: string; op: string; arg: string }

export default definePipeline<Probe>({
  name: 'probe',
  input: 'probes.jsonl',
  id: (r) => r.id,
  workers: 1,
  retry: { attempts: 3, backoffMs: 5 },
  ${extra({ secret, target })}
  async process(r) {
    switch (r.op) {
      case 'read': return readFileSync(r.arg, 'utf8').trim();
      case 'write': writeFileSync(r.arg, 'hello'); return 'written';
      case 'fetch': return await (await fetch(r.arg)).text();
      case 'http': return await new Promise((resolve, reject) => {
        http.get(r.arg, (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve(b)); }).on('error', reject);
      });
      case 'net': return await new Promise((resolve, reject) => {
        const s = net.connect(Number(r.arg), '127.0.0.1', () => { s.destroy(); resolve('connected'); });
        s.on('error', reject);
      });
      case 'env': return process.env[r.arg] ?? null;
      case 'run': return execFileSync(r.arg, ['ok'], { encoding: 'utf8' }).trim();
      // A worker thread with its own execArgv: Node 20 would start it outside the permission model.
      case 'worker': return await new Promise((resolve, reject) => {
        const code = "const { parentPort, workerData } = require('node:worker_threads'); const fs = require('node:fs');"
          + " try { parentPort.postMessage('read: ' + fs.readFileSync(workerData, 'utf8').trim()); } catch (e) { parentPort.postMessage('denied: ' + e.code); }";
        const w = new Worker(code, { eval: true, execArgv: [], workerData: r.arg });
        w.once('message', resolve);
        w.once('error', reject);
      });
    }
    throw new Error('unknown op ' + r.op);
  },
});
`);
  const probes = [
    { id: 'read', op: 'read', arg: secret },
    { id: 'write', op: 'write', arg: target },
    { id: 'fetch', op: 'fetch', arg: `http://127.0.0.1:${port}/` },
    { id: 'http', op: 'http', arg: `http://127.0.0.1:${port}/` },
    { id: 'net', op: 'net', arg: String(port) },
    { id: 'env', op: 'env', arg: 'PT_PROBE_SECRET' },
    { id: 'run', op: 'run', arg: 'echo' },
    { id: 'worker', op: 'worker', arg: secret },
  ];
  writeFile(dir, 'probes.jsonl', probes.map((p) => JSON.stringify(p)).join('\n') + '\n');
  return { dir, outside, secret, target, outFile: path.join(dir, 'out', 'probe.jsonl') };
}

const env = { PT_PROBE_SECRET: 's3cr3t' };
const items = (stdout: string) => new Map(jsonLines(stdout).filter((e) => e.type === 'item').map((e) => [String(e.id), e as unknown as ItemEvent]));
const results = (outFile: string) => new Map(readFileSync(outFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutLine).map((l) => [l.id, l.result]));

describe('permissions', () => {
  it('refuses every kind of access by default, once, with PERMISSION_DENIED and the flag to add', async () => {
    const p = probeProject();
    const res = await runCli(['run', 'probe', '--json'], { cwd: p.dir, env });
    expect(res.code, res.stderr).toBe(1);
    const byId = items(res.stdout);
    const denied = (id: string) => {
      const e = byId.get(id);
      expect(e?.status, `${id}: ${JSON.stringify(e)}`).toBe('failed');
      expect(e?.attempts, `${id} is permanent: no retries`).toBe(1);
      expect(e?.error?.code).toBe('PERMISSION_DENIED');
      expect(e?.error?.category).toBe('permission');
      expect(e?.error?.file).toBe(path.join('pipelines', 'probe.ts'));
      return e!.error!.message;
    };
    expect(denied('read')).toContain(`Requires read access to "${p.secret}"; run again with --allow-read=${p.secret}`);
    expect(denied('write')).toContain(`Requires write access to "${p.target}"; run again with --allow-write=${p.target}`);
    expect(denied('fetch')).toContain(`Requires net access to "127.0.0.1:${port}"; run again with --allow-net=127.0.0.1`);
    expect(denied('http')).toContain('run again with --allow-net=127.0.0.1');
    expect(denied('net')).toContain('run again with --allow-net=127.0.0.1');
    expect(denied('run')).toContain('Requires run access to "echo"; run again with -A');
    // A variable that is not allowed reads as undefined (the contract), and the log names the flag.
    expect(byId.get('env')?.status).toBe('done');
    expect(results(p.outFile).get('env')).toBeNull();
    const logs = res.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { message?: string }).message);
    expect(logs).toContain('Requires env access to "PT_PROBE_SECRET"; run again with --allow-env=PT_PROBE_SECRET (it reads as undefined)');
    expect(existsSync(p.target)).toBe(false);
    // The worker started with execArgv: [] kept the sandbox's file limits.
    expect(results(p.outFile).get('worker')).toBe('denied: ERR_ACCESS_DENIED');
  });

  it('allows each kind with its flag (--allow-net=HOST allows every port); child processes only with -A', async () => {
    const p = probeProject();
    const flags = [`--allow-read=${p.secret}`, `--allow-write=${path.dirname(p.target)}`, '--allow-net=127.0.0.1', '--allow-env=PT_PROBE_SECRET'];
    const res = await runCli(['run', 'probe', '--json', ...flags], { cwd: p.dir, env });
    const byId = items(res.stdout);
    for (const id of ['read', 'write', 'fetch', 'http', 'net', 'env']) expect(byId.get(id)?.status, `${id}: ${JSON.stringify(byId.get(id))}`).toBe('done');
    expect(byId.get('run')?.error?.code).toBe('PERMISSION_DENIED');
    const out = results(p.outFile);
    expect(out.get('read')).toBe('top secret');
    expect(out.get('fetch')).toBe('pong');
    expect(out.get('http')).toBe('pong');
    expect(out.get('net')).toBe('connected');
    expect(out.get('env')).toBe('s3cr3t');
    expect(out.get('worker')).toBe('read: top secret');
    expect(readFileSync(p.target, 'utf8')).toBe('hello');

    const all = await runCli(['run', 'probe', '--json', '--fresh', '-A'], { cwd: p.dir, env });
    expect(all.code, all.stderr).toBe(0);
    expect(results(p.outFile).get('run')).toBe('ok');
  });

  it('the pipeline\'s own `permissions` widen the defaults like the flags do', async () => {
    const q = JSON.stringify;
    const p = probeProject(({ secret, target }) =>
      `permissions: { read: [${q(secret)}], write: [${q(path.dirname(target))}], net: ['127.0.0.1:${port}'], env: ['PT_PROBE_SECRET'] },`);
    const res = await runCli(['run', 'probe', '--json'], { cwd: p.dir, env });
    const byId = items(res.stdout);
    for (const id of ['read', 'write', 'fetch', 'http', 'net', 'env']) expect(byId.get(id)?.status, `${id}: ${JSON.stringify(byId.get(id))}`).toBe('done');
    expect(byId.get('run')?.status).toBe('failed');
  });
});

describe('the sandboxed process\'s start', () => {
  it('starts without NODE_EXTRA_CA_CERTS (a slow start) only when the run can open no connection', async () => {
    const p = probeProject();
    writeFile(p.dir, 'probes.jsonl', JSON.stringify({ id: 'ca', op: 'env', arg: 'NODE_EXTRA_CA_CERTS' }) + '\n');
    // Any path: Node only warns when it cannot load the file.
    const caEnv = { NODE_EXTRA_CA_CERTS: path.join(p.outside, 'extra-ca.pem') };
    const offline = await runCli(['run', 'probe', '--json', '--allow-env=NODE_EXTRA_CA_CERTS'], { cwd: p.dir, env: caEnv });
    expect(offline.code, offline.stderr).toBe(0);
    expect(results(p.outFile).get('ca')).toBeNull();
    const online = await runCli(['run', 'probe', '--json', '--fresh', '--allow-env=NODE_EXTRA_CA_CERTS', '--allow-net=127.0.0.1'], { cwd: p.dir, env: caEnv });
    expect(online.code, online.stderr).toBe(0);
    expect(results(p.outFile).get('ca')).toBe(caEnv.NODE_EXTRA_CA_CERTS);
  });
});

describe('planning the sandbox from the pipeline\'s text', () => {
  /** A pipeline reading `secret` in its process, whose top-level code leaves `marker` when it may write there. */
  function planProject(permissions: (secretDir: string) => string, topLevel = '') {
    const dir = makeProject('pt-plan-');
    const outside = makeProject('pt-plan-outside-');
    const secret = writeFile(outside, 'secret.txt', 'top secret\n');
    const marker = path.join(outside, 'evaluated-here');
    writePipeline(dir, 'pipelines/plan.ts', `
import { definePipeline } from 'pipeline-tui';
import { readFileSync, writeFileSync } from 'node:fs';
try { writeFileSync(${JSON.stringify(marker)}, String(process.pid)); } catch { /* refused in the sandbox */ }
${topLevel}
export default definePipeline({
  name: 'plan',
  input: 'in.jsonl',
  id: (r: { id: string }) => r.id,
  workers: 1,
  ${permissions(outside)}
  process: () => readFileSync(${JSON.stringify(secret)}, 'utf8').trim(),
});
`);
    writeFile(dir, 'in.jsonl', '{"id":"a"}\n');
    return { dir, outside, marker, outFile: path.join(dir, 'out', 'plan.jsonl') };
  }

  it('a pipeline declared in literals is never run outside the sandbox, and gets exactly its grant', async () => {
    const p = planProject((outside) => `permissions: { read: [${JSON.stringify(outside)}] },`);
    const res = await runCli(['run', 'plan', '--json'], { cwd: p.dir });
    expect(res.code, res.stderr).toBe(0);
    expect(results(p.outFile).get('a')).toBe('top secret');
    expect(existsSync(p.marker), 'top-level code ran with write access outside the grant').toBe(false);
    // The check can see it: without the sandbox, the same code leaves its mark.
    const all = await runCli(['run', 'plan', '--json', '--fresh', '-A'], { cwd: p.dir });
    expect(all.code, all.stderr).toBe(0);
    expect(existsSync(p.marker)).toBe(true);
  });

  it('permissions the text does not show are honoured: computed ones, and a literal changed while loading', async () => {
    const computed = planProject(() => 'permissions: { read: [process.env.PT_PLAN_DIR!] },');
    const res = await runCli(['run', 'plan', '--json'], { cwd: computed.dir, env: { PT_PLAN_DIR: computed.outside } });
    expect(res.code, res.stderr).toBe(0);
    expect(results(computed.outFile).get('a')).toBe('top secret');

    // The literal declares no permissions, but the object the pipeline exports inherits some: the sandboxed
    // process sees the difference before running anything, and the launcher plans again from the real one.
    const inherited = planProject(() => '', `Object.defineProperty(Object.prototype, 'permissions', { value: { read: [${JSON.stringify('OUTSIDE')}] }, configurable: true });`);
    const file = path.join(inherited.dir, 'pipelines', 'plan.ts');
    writeFile(inherited.dir, 'pipelines/plan.ts', readFileSync(file, 'utf8').replace('"OUTSIDE"', JSON.stringify(inherited.outside)));
    const again = await runCli(['run', 'plan', '--json'], { cwd: inherited.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(results(inherited.outFile).get('a')).toBe('top secret');
    const items = jsonLines(again.stdout).filter((e) => e.type === 'item');
    expect(items, 'the run happened once').toHaveLength(1);
  });
});

describe('grant helpers', () => {
  it('bare --allow-X means everything and never swallows the next argument; lists add up', async () => {
    const { bareAllowFlags, collectAllowList } = await import('../dist/engine/permissions.js');
    expect(bareAllowFlags(['run', 'p', '--allow-read', 'data.jsonl', '--allow-net=a.com'])).toEqual(['run', 'p', '--allow-read=', 'data.jsonl', '--allow-net=a.com']);
    expect(collectAllowList('', undefined)).toBe(true);
    expect(collectAllowList('b, c', collectAllowList('a', undefined))).toEqual(['a', 'b', 'c']);
    expect(collectAllowList('a', true)).toBe(true);
  });

  it('hosts: a bare host allows every port, host:port one; URLs and IPv6 are understood', async () => {
    const { hostAllowed } = await import('../dist/engine/permissions.js');
    expect(hostAllowed(['api.x.com'], 'API.X.COM', 443)).toBe(true);
    expect(hostAllowed(['api.x.com'], 'evil.com', 443)).toBe(false);
    expect(hostAllowed(['localhost:8080'], 'localhost', 8080)).toBe(true);
    expect(hostAllowed(['localhost:8080'], 'localhost', 8081)).toBe(false);
    expect(hostAllowed(['https://api.x.com/v1'], 'api.x.com', 443)).toBe(true);
    expect(hostAllowed(['[::1]:9000'], '::1', '9000')).toBe(true);
    expect(hostAllowed('all', 'anything', 1)).toBe(true);
  });

  it('Node paths: nested and prefix-sharing grants are merged around the Node 20 path-tree bug', async () => {
    const { nodeFsPaths, staticBase } = await import('../dist/engine/permissions.js');
    expect(nodeFsPaths(['/p/out', '/p/out/x.jsonl', '/p/st/tweets', '/p/st/tweets.backup-*'])).toEqual(['/p/out', '/p/st/tweets*']);
    expect(nodeFsPaths(['/a/in.jsonl', '/a/in.jsonl.bak', '/b'])).toEqual(['/b', '/a/in.jsonl*']);
    expect(nodeFsPaths(['/', '/etc'])).toEqual(['/']);
    expect(staticBase('data/**/*.jsonl', '/w')).toBe('/w/data');
    expect(staticBase('*.csv', '/w')).toBe('/w');
    expect(staticBase('/abs/file.json', '/w')).toBe('/abs/file.json');
  });
});
