import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Loads part of the dashboard as the build bundled it (scripts/bundle-dashboard.mjs: a few files load in
 * a fraction of the time of Ink's ~500 modules, React's production build already chosen), or else its
 * compiled modules, with React's production build unless NODE_ENV says otherwise: React picks its build
 * when first loaded, and the development one costs several times more time per frame. NODE_ENV is
 * restored once loaded, before any worker thread starts.
 * `bundled`: the bundle's path relative to this folder (tui/).
 */
export async function importBundled<T>(bundled: string, load: () => Promise<T>): Promise<T> {
  const bundle = new URL(bundled, import.meta.url);
  if (existsSync(fileURLToPath(bundle))) return (await import(bundle.href)) as T;
  const unset = process.env.NODE_ENV === undefined;
  if (unset) process.env.NODE_ENV = 'production';
  try {
    return await load();
  } finally {
    if (unset) delete process.env.NODE_ENV;
  }
}
