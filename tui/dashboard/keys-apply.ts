import type { DashboardStore } from '../../state/store.js';
import { planKeys, type KeyEffect, type KeyName } from '../keys.js';

/** What keys do: the next state (focus, help, stopping...) and the effects on the engine. */
export function applyKeys(store: DashboardStore, keys: KeyName[], onEffect: ((effect: KeyEffect) => void) | undefined): void {
  const plan = planKeys(store.getState(), keys, Date.now());
  if (plan.state !== store.getState()) store.setState(plan.state, true);
  for (const e of plan.effects) onEffect?.(e);
}
