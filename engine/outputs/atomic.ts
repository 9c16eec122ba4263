import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** A dotfile beside the target (same file system, so the rename is atomic) that watchers and globs skip. */
export function tempName(file: string, pid = process.pid): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${pid}.tmp`);
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Temp files of writers that were killed mid-write: never renamed, so never part of any output. */
export function removeStaleTemps(file: string): void {
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try { names = readdirSync(path.dirname(file)); } catch { return; }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(name.slice(prefix.length, -4));
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

/** Buffered writes to a file descriptor: one syscall per ~1 MB, not per row. */
export class FdWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 1 << 20) this.flush();
  }

  writeBuffer(buf: Uint8Array): void {
    this.flush();
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const buf = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    this.writeBuffer(buf);
  }
}

/**
 * Node 20's permission model (the sandbox, tui/sandbox.ts) refuses fsync outright. A process crash still
 * cannot tear the file (the rename is atomic); only a power loss right after it could.
 */
function syncUnlessSandboxed(fd: number): void {
  try {
    fsyncSync(fd);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_ACCESS_DENIED') throw e;
  }
}

/**
 * Writes `file` whole or not at all: into a temp file, flushed to disk, then renamed over the target.
 * A crash at any point leaves the previous version intact (and at worst a stale temp file).
 */
export async function atomicWrite(file: string, fill: (out: FdWriter) => Promise<void> | void): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    const out = new FdWriter(fd);
    await fill(out);
    out.flush();
    syncUnlessSandboxed(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, file);
}
