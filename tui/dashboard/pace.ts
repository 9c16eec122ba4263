/**
 * Paces the dashboard's refresh by what drawing costs on this machine and by how busy the main thread
 * is. When the engine keeps the main thread busy (dispatch, checkpointing), frames may take only a small
 * share of it, so a costly frame is drawn less often (down to one every two seconds); when the main
 * thread is mostly idle (runs waiting on providers), drawing may take more and the screen stays lively
 * (up to 10 frames a second). Keys are not paced: Ink draws their effect at once.
 */
export class RefreshPace {
  private renderMs = 0;
  private updateMs = 0;

  constructor(private readonly o: {
    /** Share of a busy main thread drawing may take. @default 0.02 */
    share?: number;
    /** Share of a mostly idle one. @default 0.1 */
    idleShare?: number;
    /** Event-loop utilization from which the main thread counts as busy. @default 0.5 */
    busyAbove?: number;
    /** @default 100 (10 frames a second at most) */
    minMs?: number;
    /** Longest period while the main thread is busy. @default 2000 */
    maxMs?: number;
    /** Longest period while it is idle. @default 1000 */
    idleMaxMs?: number;
  } = {}) {}

  /** One frame's output, as Ink reports it (renderTime: building and diffing the screen's text). */
  record(ms: number): void {
    if (ms >= 0) this.renderMs = this.renderMs === 0 ? ms : this.renderMs * 0.8 + ms * 0.2;
  }

  /** One store update: React's render and commit and Ink's layout, which Ink's figure leaves out. */
  recordUpdate(ms: number): void {
    if (ms >= 0) this.updateMs = this.updateMs === 0 ? ms : this.updateMs * 0.8 + ms * 0.2;
  }

  /**
   * The next refresh period. `utilization`: the main thread's event-loop utilization since the last
   * refresh (0 to 1; performance.eventLoopUtilization). Writing a frame and collecting its garbage come
   * on top of what is measured: half as much again, as profiled.
   */
  intervalMs(utilization = 1): number {
    const { share = 0.02, idleShare = 0.1, busyAbove = 0.5, minMs = 100, maxMs = 2000, idleMaxMs = 1000 } = this.o;
    const busy = utilization >= busyAbove;
    const cost = 1.5 * (this.renderMs + this.updateMs);
    return Math.round(Math.min(busy ? maxMs : idleMaxMs, Math.max(minMs, cost / (busy ? share : idleShare))));
  }
}
