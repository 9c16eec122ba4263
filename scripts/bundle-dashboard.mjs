// Bundles the compiled dashboard (dist/tui/dashboard/) with Ink and React into one file, loaded by
// tui/commands.ts importDashboard(). Why: Ink imports `throttle` from es-toolkit's `compat` barrel, and
// Node's ESM loader then resolves, reads and compiles its 415 modules one by one; loading Ink that way
// costs ~700 ms of main-thread time (measured), before the first frame and beside a running engine.
// One bundled file takes a fraction of that.
//
// Our own modules outside the dashboard folder (engine/, state/, tui/) stay separate imports: they are
// shared with the rest of the CLI (one module instance each). The output goes to dist/tui/dashboard/bundled/. React's production build is chosen at bundle time, as the CLI always did
// at load time.
//
// esbuild is a devDependency: an install without it (--omit=dev) skips the bundle, and the CLI loads the
// unbundled dashboard instead (slower to start, same behaviour).
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../dist/tui/dashboard/', import.meta.url));
const outdir = `${dir}bundled/`;
const outputs = { index: 'index.js', session: 'session.js', 'render-thread': 'render-thread.js', 'launcher-screen': 'launcher-screen.js' };
rmSync(outdir, { recursive: true, force: true });

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  process.stdout.write('esbuild is not installed: the dashboard stays unbundled (it starts slower)\n');
  process.exit(0);
}
for (const source of Object.values(outputs)) {
  if (existsSync(`${dir}${source}`)) continue;
  process.stderr.write(`Expected ${dir}${source} (run tsc first), got nothing\n`);
  process.exit(1);
}

await esbuild.build({
  // The whole dashboard (the picker), a run's session on the main thread, the thread that draws it
  // (render-thread.tsx), and a sandbox launcher's side of drawing it (launcher-screen.ts). Code they share goes into chunks, so the session's main thread, whose frames are
  // drawn on the other thread, loads neither Ink nor React.
  entryPoints: Object.fromEntries(Object.entries(outputs).map(([name, source]) => [name, `${dir}${source}`])),
  outdir,
  splitting: true,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Bundled CommonJS (React) calls require() for Node's own modules; an ES module has none of its own.
  banner: { js: "import { createRequire as __ptCreateRequire } from 'node:module'; const require = __ptCreateRequire(import.meta.url);" },
  plugins: [{
    name: 'keep-own-modules-apart',
    setup(build) {
      build.onResolve({ filter: /^\.\.\// }, (args) => {
        if (!args.importer.startsWith(dir)) return undefined;
        const target = path.resolve(path.dirname(args.importer), args.path);
        return { path: path.relative(outdir, target), external: true };
      });
      // Ink's optional React DevTools hook (DEV=true) imports a package that is not a dependency. Ink
      // loads it lazily and explains the failure; the stand-in fails the same way, only when loaded.
      build.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'react-devtools-core', namespace: 'absent' }));
      build.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({ contents: "throw new Error('Cannot find package react-devtools-core');", loader: 'js' }));
      // Yoga's Emscripten loader fetch()es its own inlined base64 data: URI when fetch exists, and the first
      // fetch loads Node's whole HTTP client (~50 ms measured) before the first frame. Its fallback decodes
      // the same bytes in place; the patch makes it take that path.
      build.onLoad({ filter: /yoga-wasm-base64-esm\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const patched = source.replaceAll('"function"!=typeof fetch', 'true');
        if (patched === source) process.stdout.write('yoga-layout changed: its wasm is loaded through fetch again (slower first frame)\n');
        return { contents: patched, loader: 'js' };
      });
    },
  }],
  // Whitespace and syntax only: names stay, so a stack trace from the dashboard still reads.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});
