// `pipeline-tui` with no pipeline on a TTY: pick one of ./pipelines/, each shown with its checkpoint.
import path from 'node:path';
import { useCallback } from 'react';
import { Box, Text, render, useInput, useStdin, type Key } from 'ink';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { readCheckpointSummary, type CheckpointSummary } from '../../state/checkpoint-summary.js';
import { describePipelineFile, pipelineFilesIn } from '../discover.js';
import { decodeKeys } from '../keys.js';
import { oneLine } from '../sanitize.js';
import { useTerminalSize } from './context.js';
import { ago, grouped } from './format.js';

export interface PickerEntry {
  file: string;
  /** Path shown, relative to the working directory. */
  shown: string;
  /** `undefined` while the file is being loaded. */
  name?: string | null;
  description?: string;
  problem?: string | null;
  /** `undefined` while loading; `null` when the pipeline never ran; a string when the state is unreadable. */
  checkpoint?: CheckpointSummary | null | string;
}

export interface PickerState { entries: PickerEntry[]; selected: number; message: string | null }

export function checkpointText(c: PickerEntry['checkpoint']): string {
  if (c === undefined) return '…';
  if (c === null) return 'no checkpoint';
  if (typeof c === 'string') return `state unreadable: ${oneLine(c)}`;
  const left = c.left === null ? '' : ` · left ${grouped(c.left)}`;
  const status = c.lastRun ? `${c.lastRun.status} ${ago(c.at)}` : '';
  return `done ${grouped(c.done)} · failed ${grouped(c.failed)}${left}${status ? ` · ${status}` : ''}`;
}

export function Picker({ store, onDone }: { store: StoreApi<PickerState>; onDone: (file: string | null) => void }) {
  const s = useStore(store, useShallow((st) => ({ entries: st.entries, selected: st.selected, message: st.message })));
  const size = useTerminalSize();
  const { isRawModeSupported } = useStdin();
  const nameWidth = Math.min(24, Math.max(8, ...s.entries.map((e) => oneLine(e.name ?? path.basename(e.file)).length + 2)));
  const visible = Math.max(1, size.rows - 5);
  const first = Math.max(0, Math.min(s.selected - visible + 1, s.entries.length - visible));
  return (
    <Box flexDirection="column" width={size.columns}>
      {isRawModeSupported ? <PickerKeys store={store} onDone={onDone} /> : null}
      <Text bold>Pipelines in ./pipelines/</Text>
      {s.entries.slice(first, first + visible).map((e, i) => {
        const picked = first + i === s.selected;
        const name = oneLine(e.name ?? path.basename(e.file));
        return (
          <Box key={e.file} height={1}>
            <Text wrap="truncate-end" inverse={picked}>
              {picked ? '› ' : '  '}
              <Text bold>{name.padEnd(nameWidth)}</Text>
              {e.problem ? <Text color="red">{`broken: ${oneLine(e.problem)}`}</Text> : <Text dimColor>{checkpointText(e.checkpoint)}</Text>}
              {e.description ? `  ${oneLine(e.description)}` : ''}
            </Text>
          </Box>
        );
      })}
      <Box height={1} />
      <Text wrap="truncate-end" color={s.message ? 'yellow' : undefined} dimColor={!s.message}>{s.message ? oneLine(s.message) : 'Up/Down choose · Enter run · q quit'}</Text>
    </Box>
  );
}

function PickerKeys({ store, onDone }: { store: StoreApi<PickerState>; onDone: (file: string | null) => void }) {
  const handle = useCallback((input: string, key: Key) => {
    for (const k of decodeKeys(input, key)) {
      const { entries, selected } = store.getState();
      if (k === 'up' || k === 'k') store.setState({ selected: Math.max(0, selected - 1), message: null });
      else if (k === 'down' || k === 'j') store.setState({ selected: Math.min(entries.length - 1, selected + 1), message: null });
      else if (k === 'q' || k === 'escape' || k === 'ctrl-c') { onDone(null); return; }
      else if (k === 'enter') {
        const e = entries[selected];
        if (!e) return;
        if (e.problem) { store.setState({ message: `${e.shown} cannot run: ${e.problem} (see pipeline-tui check)` }); return; }
        onDone(e.file);
        return;
      }
    }
  }, [store, onDone]);
  useInput(handle);
  return null;
}

export interface PickOptions {
  /** @default process.cwd() */
  cwd?: string;
  /** State root, as `--state`. @default '.pipeline-tui' */
  stateDir?: string;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/** Shows the picker; resolves with the chosen pipeline file (`null`: quit) and how many pipeline files there were. */
export async function pickPipeline(o: PickOptions = {}): Promise<{ file: string | null; found: number }> {
  const cwd = o.cwd ?? process.cwd();
  const stateRoot = path.resolve(cwd, o.stateDir ?? '.pipeline-tui');
  const files = pipelineFilesIn(path.join(cwd, 'pipelines'));
  if (files.length === 0) return { file: null, found: 0 };
  const store = createStore<PickerState>()(() => ({ entries: files.map((file) => ({ file, shown: path.relative(cwd, file) })), selected: 0, message: null }));
  let done: (file: string | null) => void = () => undefined;
  const result = new Promise<string | null>((resolve) => { done = resolve; });
  const stdin = o.stdin ?? process.stdin;
  const ink = render(<Picker store={store} onDone={(f) => done(f)} />, { stdin, stdout: o.stdout ?? process.stdout, exitOnCtrlC: false, maxFps: 10 });
  const update = (file: string, patch: Partial<PickerEntry>) =>
    store.setState((s) => ({ entries: s.entries.map((e) => (e.file === file ? { ...e, ...patch } : e)) }));
  // Names and checkpoints fill in after the first frame: loading every pipeline file takes a moment.
  // Loading stops once a pipeline is chosen, and ends before the run starts: a read-only checkpoint
  // open in this process must not overlap the engine's own.
  let picked = false;
  const loading = (async () => {
    for (const file of files) {
      if (picked) return;
      const info = await describePipelineFile(file);
      update(file, info);
      if (picked) return;
      const checkpoint = info.name === null ? null : await readCheckpointSummary(stateRoot, info.name).catch((e: Error) => e.message);
      update(file, { checkpoint });
    }
  })();
  const chosen = await result;
  picked = true;
  ink.unmount();
  await Promise.all([ink.waitUntilExit(), loading]);
  // Stop reading the terminal: the run that follows may be a child process sharing it (the sandbox), and
  // a read left pending here would take its keys.
  stdin.pause();
  return { file: chosen, found: files.length };
}
