/**
 * Layers only point down (docs/architecture.md, "Layers"): every relative import (static, `export
 * ... from`, dynamic, and a worker entry named by `new URL(..., import.meta.url)`) of a file in
 * src/, actors/ or native/ must name a file of its own layer or a lower one. Each violation is
 * reported by file and import. A file in a folder the table does not place fails too, so a new
 * folder is placed on purpose. bench/ and test/ may import anything and are not scanned.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** Bottom to top; a folder's layer is that of its longest matching prefix. */
const LAYERS: readonly { layer: string; folders: readonly string[] }[] = [
  { layer: '1 utilities', folders: ['src/util', 'src/random', 'native'] },
  { layer: '2 domain types and leaf libraries', folders: ['src/generation', 'src/log', 'src/security', 'src/net', 'src/model', 'src/kv', 'src/sampling'] },
  { layer: '3 engines and transfer backends', folders: ['src/engine', 'src/transfer'] },
  { layer: '4 actors', folders: ['actors'] },
  { layer: '5 membership and PD control', folders: ['src/registry', 'src/membership', 'src/pd'] },
  { layer: '6 HTTP server', folders: ['src/server'] },
  { layer: '6 router (above the server)', folders: ['src/router'] },
  { layer: '7 composition roots', folders: ['src/node', 'src/cli', 'src/index.ts'] },
];
const SCANNED = ['src', 'actors', 'native'];
/** `import`/`export ... from '...'`, side-effect `import '...'`, `import('...')`, `new URL('...', import.meta.url)`: relative specifiers only. */
const IMPORT = /(?:\b(?:import|export)\s[^'";]*?\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

interface Layered {
  rank: number;
  layer: string;
}

function layerOf(path: string): Layered | null {
  let found: Layered | null = null;
  let matched = -1;
  for (const [rank, { layer, folders }] of LAYERS.entries()) {
    for (const f of folders) {
      if ((path === f || path.startsWith(`${f}/`)) && f.length > matched) {
        found = { rank, layer };
        matched = f.length;
      }
    }
  }
  return found;
}

/** The violations among `files` (repository-relative posix paths and their text). */
function upwardImports(files: readonly { path: string; text: string }[]): string[] {
  const problems: string[] = [];
  for (const { path, text } of files) {
    const from = layerOf(path);
    if (!from) {
      problems.push(`${path}: its folder has no layer (add it to the table in this test and docs/architecture.md)`);
      continue;
    }
    for (const m of text.matchAll(IMPORT)) {
      const target = posix.normalize(posix.join(posix.dirname(path), m[1])).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (to && to.rank > from.rank) problems.push(`${path} (layer ${from.layer}) imports '${m[1]}' = ${target} (layer ${to.layer})`);
    }
  }
  return problems;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): { path: string; text: string }[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => {
      const abs = join(e.parentPath, e.name);
      return { path: relative(ROOT, abs).split(sep).join('/'), text: readFileSync(abs, 'utf8') };
    });
}

test('import direction: no file of src/, actors/ or native/ imports a higher layer', () => {
  const files = SCANNED.flatMap(sources);
  // Proves the scan saw the tree and its imports (a wrong root would pass vacuously).
  assert.ok(files.some((f) => f.path === 'src/node/start-node.ts'), `scanned ${files.length} files under ${ROOT}`);
  assert.ok(files.reduce((n, f) => n + [...f.text.matchAll(IMPORT)].length, 0) > files.length, 'imports were found');
  assert.deepEqual(upwardImports(files), []);
});

test('import direction: the check names an upward import, a worker entry above, and an unplaced folder', () => {
  const problems = upwardImports([
    { path: 'src/util/a.ts', text: "import type {\n  X,\n} from '../node/options.js';\nimport { y } from './b.js';" },
    { path: 'src/transfer/w.ts', text: "const WORKER = new URL('../../actors/transfer/transfer-worker.js', import.meta.url);" },
    { path: 'src/server/s.ts', text: "export { r } from '../router/r.js';\nimport { p } from '../pd/p.js';" },
    { path: 'src/elsewhere/e.ts', text: '' },
  ]);
  assert.deepEqual(problems, [
    "src/util/a.ts (layer 1 utilities) imports '../node/options.js' = src/node/options.ts (layer 7 composition roots)",
    "src/transfer/w.ts (layer 3 engines and transfer backends) imports '../../actors/transfer/transfer-worker.js' = actors/transfer/transfer-worker.ts (layer 4 actors)",
    "src/server/s.ts (layer 6 HTTP server) imports '../router/r.js' = src/router/r.ts (layer 6 router (above the server))",
    'src/elsewhere/e.ts: its folder has no layer (add it to the table in this test and docs/architecture.md)',
  ]);
});
