export { Dashboard } from './dashboard.js';
export type { DashboardProps } from './dashboard.js';
export { runDashboard, MAX_WORKERS_BY_KEY } from './session.js';
export type { DashboardRunOptions, PendingPipeline } from './session.js';
export { Picker, pickPipeline, checkpointText } from './picker.js';
export type { PickerEntry, PickerState, PickOptions } from './picker.js';
export { planLayout, minimumSize, MIN_COLUMNS, MIN_ROWS } from './layout.js';
export type { LayoutInput, LayoutPlan } from './layout.js';
export { bar, sparkline, compact, clock } from './format.js';
