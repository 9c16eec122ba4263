// Dashboard keys: decoding what Ink hands over, and deciding what each key does. Both pure: the screen
// applies the new state and the session carries out the effects on the engine.
import { applyUi, withNotice, type DashboardState } from '../state/store.js';

export type KeyName =
  | 'p' | 'space' | '+' | '-' | 'r' | '?' | 'q' | 'c' | 'f' | 'j' | 'k'
  | 'tab' | 'shift-tab' | 'enter' | 'escape' | 'up' | 'down' | 'ctrl-c';

/** The subset of Ink's `Key` that decoding needs. */
export interface KeyFlags {
  ctrl?: boolean;
  shift?: boolean;
  tab?: boolean;
  return?: boolean;
  escape?: boolean;
  upArrow?: boolean;
  downArrow?: boolean;
}

const byChar: Record<string, KeyName> = {
  p: 'p', ' ': 'space', '+': '+', '=': '+', '-': '-', _: '-', r: 'r', '?': '?', q: 'q', c: 'c', f: 'f', j: 'j', k: 'k',
  '\t': 'tab', '\r': 'enter', '\n': 'enter', '\x03': 'ctrl-c',
};

/**
 * Keys in one input event. Keys typed faster than the terminal is read arrive as one string ("+++",
 * "pp"), and every one of them counts; a lone special key comes with Ink's flags set instead.
 */
export function decodeKeys(input: string, key: KeyFlags = {}): KeyName[] {
  if (key.ctrl && input.toLowerCase() === 'c') return ['ctrl-c'];
  if (key.tab) return [key.shift ? 'shift-tab' : 'tab'];
  if (key.return) return ['enter'];
  if (key.upArrow) return ['up'];
  if (key.downArrow) return ['down'];
  if (key.escape && input.length <= 1) return ['escape'];
  if (key.ctrl) return [];
  const keys: KeyName[] = [];
  for (const ch of input) {
    const k = byChar[ch] ?? byChar[ch.toLowerCase()];
    if (k) keys.push(k);
  }
  return keys;
}

export type ResumeChoice = 'continue' | 'fresh' | 'quit';

/** What the session does to the engine (or to itself) in answer to keys. */
export type KeyEffect =
  | { type: 'toggle-pause' }
  | { type: 'workers'; delta: number }
  | { type: 'retry' }
  | { type: 'stop' }
  | { type: 'force-stop' }
  | { type: 'exit' }
  | { type: 'resume'; choice: ResumeChoice };

export interface KeyPlan { state: DashboardState; effects: KeyEffect[] }

function push(effects: KeyEffect[], e: KeyEffect): void {
  // "+++" is one resize by three, not three resizes: fewer pool changes, same count.
  const last = effects.at(-1);
  if (e.type === 'workers' && last?.type === 'workers') {
    last.delta += e.delta;
    if (last.delta === 0) effects.pop();
  } else effects.push(e);
}

function resumeKey(s: DashboardState, k: KeyName, effects: KeyEffect[]): DashboardState {
  if (k === 'c' || k === 'enter') push(effects, { type: 'resume', choice: 'continue' });
  else if (k === 'f') push(effects, { type: 'resume', choice: 'fresh' });
  else if (k === 'q' || k === 'ctrl-c' || k === 'escape') push(effects, { type: 'resume', choice: 'quit' });
  return s;
}

function overlayKey(s: DashboardState, k: KeyName): DashboardState | undefined {
  if (s.ui.detail) {
    if (k === 'escape' || k === 'enter') return applyUi(s, { type: 'detail', open: false });
    if (k === 'up' || k === 'k') return applyUi(s, { type: 'select', step: -1 });
    if (k === 'down' || k === 'j') return applyUi(s, { type: 'select', step: 1 });
  }
  if (s.ui.help && (k === 'escape' || k === 'enter' || k === '?')) return applyUi(s, { type: 'help', open: false });
  return undefined;
}

function runKey(s: DashboardState, k: KeyName, now: number, effects: KeyEffect[]): DashboardState {
  const overlay = overlayKey(s, k);
  if (overlay) return overlay;
  const finished = s.phase === 'finished';
  switch (k) {
    case '?': return applyUi(s, { type: 'help' });
    case 'tab': return applyUi(s, { type: 'focus', step: 1 });
    case 'shift-tab': return applyUi(s, { type: 'focus', step: -1 });
    case 'up': case 'k': return s.ui.focus === 'errors' ? applyUi(s, { type: 'select', step: -1 }) : s;
    case 'down': case 'j': return s.ui.focus === 'errors' ? applyUi(s, { type: 'select', step: 1 }) : s;
    case 'enter': return s.ui.focus === 'errors' ? applyUi(s, { type: 'detail', open: true }) : s;
    case 'escape': return s;
    case 'q':
      if (finished) { push(effects, { type: 'exit' }); return s; }
      if (s.ui.stopping) return withNotice(s, 'Already stopping: running items are finishing. Ctrl-C to stop at once.', now);
      push(effects, { type: 'stop' });
      return withNotice(applyUi(s, { type: 'stopping' }), 'Stopping: no new items; running ones finish, then checkpoint and exit. Ctrl-C to stop at once.', now);
    case 'ctrl-c':
      if (finished) { push(effects, { type: 'exit' }); return s; }
      if (s.ui.stopping) {
        push(effects, { type: 'force-stop' });
        return withNotice(applyUi(s, { type: 'interrupt' }), 'Stopping at once: saving the checkpoint.', now);
      }
      push(effects, { type: 'stop' });
      return withNotice(applyUi(s, { type: 'interrupt' }), 'Stopping: running items finish, then checkpoint. Ctrl-C again to stop at once.', now);
    default: break;
  }
  if (finished || s.ui.stopping) {
    if (k === 'p' || k === 'space' || k === '+' || k === '-' || k === 'r') {
      return withNotice(s, finished ? `The run has ended; q to exit${s.errors.total > 0 ? `, \`pipeline-tui retry ${s.pipeline}\` to re-run failures` : ''}.` : 'Stopping: that key has no effect now.', now);
    }
    return s;
  }
  if (k === 'p' || k === 'space') push(effects, { type: 'toggle-pause' });
  else if (k === '+') push(effects, { type: 'workers', delta: 1 });
  else if (k === '-') push(effects, { type: 'workers', delta: -1 });
  else if (k === 'r') push(effects, { type: 'retry' });
  return s;
}

/** Folds keys into the next screen state and the effects to carry out, in order. */
export function planKeys(state: DashboardState, keys: KeyName[], now: number): KeyPlan {
  const effects: KeyEffect[] = [];
  let s = state;
  for (const k of keys) s = s.phase === 'resume-prompt' ? resumeKey(s, k, effects) : runKey(s, k, now, effects);
  return { state: s, effects };
}

/** The help overlay's rows: keys and what they do. */
export const keyHelp: [keys: string, does: string][] = [
  ['p, space', 'pause / resume dispatch (running items finish)'],
  ['+ / -', 'one worker more / less (every key counts)'],
  ['r', 'retry the items that failed in this run'],
  ['Tab, Shift-Tab', 'move between panels'],
  ['Up / Down', 'pick an error (Errors panel)'],
  ['Enter', 'show the picked error in full; Esc closes'],
  ['?', 'this help'],
  ['q', 'stop dispatching, let running items finish, checkpoint, exit'],
  ['Ctrl-C twice', 'exit at once, after a checkpoint'],
];
