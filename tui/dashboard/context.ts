import { createContext, useContext, useEffect, useState } from 'react';
import { useStdout } from 'ink';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { DashboardState, DashboardStore } from '../../state/store.js';

export const StoreContext = createContext<DashboardStore | null>(null);

export function useDashboardStore(): DashboardStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('Dashboard components need a StoreContext provider');
  return store;
}

/** A slice that is a primitive or an object kept by reference in the state. */
export function useDashboard<T>(selector: (s: DashboardState) => T): T {
  return useStore(useDashboardStore(), selector);
}

/**
 * A slice built as a new object or array on every call. Compared key by key: without this, every store
 * update would look like a change and re-render (or loop: "Maximum update depth exceeded").
 */
export function useDashboardShallow<T extends object>(selector: (s: DashboardState) => T): T {
  return useStore(useDashboardStore(), useShallow(selector));
}

export interface TerminalSize { columns: number; rows: number }

/** The terminal's size, updated on resize. Streams that are not terminals read as 80x24. */
export function useTerminalSize(): TerminalSize {
  const { stdout } = useStdout();
  const [size, setSize] = useState<TerminalSize>(() => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }));
  useEffect(() => {
    const onResize = () => {
      const next = { columns: stdout.columns || 80, rows: stdout.rows || 24 };
      setSize((prev) => (prev.columns === next.columns && prev.rows === next.rows ? prev : next));
    };
    onResize();
    stdout.on('resize', onResize);
    return () => { stdout.off('resize', onResize); };
  }, [stdout]);
  return size;
}
