/**
 * Paces the dashboard's refresh by what drawing costs on this machine and by how busy the main thread
 * is. While the engine keeps the main thread busy (dispatch, checkpointing), frames may take only a small
 * share of it, so a costly frame is drawn less often (down to one a second); while the main thread is
 * mostly idle (runs waiting on providers), drawing may take more and the screen stays lively (up to 10
 * frames a second). Keys are not paced: Ink draws their effect at once. Drawn on another thread or by the
 * sandbox launcher, a frame no longer stops dispatch, but it still takes CPU the workers could use on a
 * small machine, so the same pace applies there.
 */
export class RefreshPace {
  private avgMs = 0;
  private frames = 0;

  constructor(private readonly o: {
    /** Share of a busy main thread drawing may take. @default 0.02 */
    share?: number;
    /** Share of a mostly idle one. @default 0.1 */
    idleShare?: number;
    /** Event-loop utilization from which the main thread counts as busy. @default 0.5 */
    busyAbove?: number;
    /** @default 100 (10 frames a second at most) */
    minMs?: number;
    /** Longest period (a screen older than this looks stuck). @default 1000 */
    maxMs?: number;
  } = {}) {}

  /** One frame's drawing time, as Ink reports it. The first frame runs cold code: it says nothing of the next ones. */
  record(ms: number): void {
    if (!(ms >= 0) || this.frames++ === 0) return;
    this.avgMs = this.avgMs === 0 ? ms : this.avgMs * 0.8 + ms * 0.2;
  }

  /**
   * The next refresh period. `utilization`: the main thread's event-loop utilization since the last
   * refresh (0 to 1; performance.eventLoopUtilization). Ink's figure leaves out React and layout, which
   * cost about as much again (profiled on a 100x30 terminal: the frame's whole cost is 1.6x Ink's part).
   */
  intervalMs(utilization = 1): number {
    const { share = 0.02, idleShare = 0.1, busyAbove = 0.5, minMs = 100, maxMs = 1000 } = this.o;
    return Math.round(Math.min(maxMs, Math.max(minMs, (2 * this.avgMs) / (utilization >= busyAbove ? share : idleShare))));
  }
}
