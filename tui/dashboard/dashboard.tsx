import { useCallback } from 'react';
import { Box, useInput, useStdin, type Key } from 'ink';
import type { DashboardStore } from '../../state/store.js';
import { decodeKeys, type KeyEffect, type KeyName } from '../keys.js';
import { applyKeys } from './keys-apply.js';
import { StoreContext, useDashboard, useDashboardShallow, useTerminalSize } from './context.js';
import { LogsPanel, ThroughputPanel } from './activity.js';
import { ErrorDetail, ErrorsPanel } from './errors.js';
import { Footer, Header, Progress } from './header.js';
import { planLayout, type LayoutPlan } from './layout.js';
import { HelpOverlay, ResumePrompt, TooSmall } from './overlays.js';
import { TopRow, WatchPanel } from './panels.js';
import { MachinesPanel } from './machines.js';
import { ProvidersPanel } from './providers.js';

export interface DashboardProps {
  store: DashboardStore;
  /** Carries out what keys ask of the engine (pause, resize, retry, stop, exit, resume choice). */
  onEffect?: (effect: KeyEffect) => void;
  /** Keys go here instead, undecided, when the store is a copy of one kept elsewhere (render-thread.tsx). */
  onKeys?: (keys: KeyName[]) => void;
}

/** The live dashboard. Renders only from the store; keys go to `onEffect` (or `onKeys`). */
export function Dashboard({ store, onEffect, onKeys }: DashboardProps) {
  const here = useCallback((keys: KeyName[]) => applyKeys(store, keys, onEffect), [store, onEffect]);
  return (
    <StoreContext.Provider value={store}>
      <Screen onKeys={onKeys ?? here} />
    </StoreContext.Provider>
  );
}

/** Mounted only when stdin supports raw mode: Ink's useInput throws otherwise. */
function KeyInput({ onKeys }: { onKeys: (keys: KeyName[]) => void }) {
  const handle = useCallback((input: string, key: Key) => {
    const keys = decodeKeys(input, key);
    if (keys.length > 0) onKeys(keys);
  }, [onKeys]);
  useInput(handle);
  return null;
}

function Screen({ onKeys }: { onKeys: (keys: KeyName[]) => void }) {
  const size = useTerminalSize();
  const { isRawModeSupported } = useStdin();
  const c = useDashboardShallow((s) => ({ phase: s.phase, providers: s.providers?.length ?? 0, stages: s.workers.perStage.length, watch: s.watch !== null, machines: s.machines?.length ?? 0 }));
  const layout = planLayout({ columns: size.columns, rows: size.rows, providers: c.providers, stages: c.stages, watch: c.watch, machines: c.machines });
  let body;
  if (layout.tooSmall) body = <TooSmall need={layout.need} columns={size.columns} rows={size.rows} />;
  else if (c.phase === 'resume-prompt') body = <ResumePrompt />;
  else body = <Main layout={layout} watch={c.watch} />;
  return (
    <Box flexDirection="column" width={size.columns}>
      {isRawModeSupported ? <KeyInput onKeys={onKeys} /> : null}
      {body}
    </Box>
  );
}

function Main({ layout, watch }: { layout: LayoutPlan; watch: boolean }) {
  const overlay = useDashboard((s) => (s.ui.detail ? 'detail' : s.ui.help ? 'help' : null));
  const { framed, columns } = layout;
  const panelsHeight = layout.height - 3 - (layout.gap ? 1 : 0);
  return (
    <Box flexDirection="column" width={columns} height={layout.height}>
      <Header />
      <Progress width={columns} />
      {layout.gap ? <Box height={1} /> : null}
      {overlay === 'help' ? <HelpOverlay height={panelsHeight} /> : null}
      {overlay === 'detail' ? <ErrorDetail height={panelsHeight} /> : null}
      {overlay === null ? (
        <Box flexDirection="column" height={panelsHeight}>
          <TopRow lines={layout.topLines} framed={framed} />
          {watch ? <WatchPanel framed={framed} /> : null}
          <ProvidersPanel rows={layout.providerRows} framed={framed} width={columns} />
          {layout.machineRows > 0 ? <MachinesPanel rows={layout.machineRows} framed={framed} /> : null}
          <ErrorsPanel lines={layout.errorLines} framed={framed} />
          <ThroughputPanel height={layout.sparkHeight} framed={framed} width={columns} />
          {layout.logLines > 0 ? <LogsPanel lines={layout.logLines} framed={framed} /> : null}
        </Box>
      ) : null}
      <Footer />
    </Box>
  );
}
