/**
 * Paces the dashboard's refresh by what drawing costs on this machine, so that the screen never takes
 * more than a small share of the main thread, which the engine needs for dispatch and checkpointing.
 * A fast machine gets 10 frames a second; a slow or loaded one fewer, down to one a second.
 */
export class RefreshPace {
  private avgMs = 0;

  constructor(private readonly o: {
    /** Share of the main thread drawing may take. @default 0.02 */
    share?: number;
    /** @default 100 (10 frames a second at most) */
    minMs?: number;
    /** @default 1000 */
    maxMs?: number;
  } = {}) {}

  /** One frame's drawing time, as Ink reports it. */
  record(ms: number): void {
    if (!(ms >= 0)) return;
    this.avgMs = this.avgMs === 0 ? ms : this.avgMs * 0.8 + ms * 0.2;
  }

  /** The next refresh period. Ink's figure leaves out React and layout, which cost about as much again. */
  intervalMs(): number {
    const { share = 0.02, minMs = 100, maxMs = 1000 } = this.o;
    return Math.round(Math.min(maxMs, Math.max(minMs, (2 * this.avgMs) / share)));
  }
}
