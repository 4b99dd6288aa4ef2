// The house rules of node/src, read from the code's own imports so they stay true: each top-level
// folder sits on a floor and imports only from lower floors (or within itself), and no two files
// import each other, directly or around a circle (type-only imports included).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../src');

/** Floor of each top-level folder (or file) of node/src: imports go to lower floors only. */
const FLOORS: Readonly<Record<string, number>> = {
  raft: 0, // the pure Raft core
  common: 1, storage: 1, transport: 1, // errors and logging; the disk; the peer link
  state: 2, driver: 2, membership: 2, // the state engine; the Ready loop; who the peers are
  catga: 3, sim: 3, backup: 3, // the mediator; the simulator (core + driver under faults); backup files and stores
  server: 4, // HTTP and WebSocket
  runtime: 5, client: 5, local: 5, // the node wired together; the client of its API; local clusters of node processes
  bench: 6, 'index.ts': 6, // benchmarks against etcd; the package's main export
  cli: 7, // the command line (its verbs include bench)
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports of a file (static, re-exports and dynamic with a literal), as .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const floorOf = (file: string): [string, number] => {
  const top = relative(SRC, file).split('/')[0]!;
  const floor = FLOORS[top];
  assert.ok(floor !== undefined, `node/src/${top} has no floor: add it to FLOORS (and docs/architecture.md)`);
  return [top, floor];
};

type Graph = ReadonlyMap<string, readonly string[]>;

/** Imports from a folder to another on the same or a higher floor. */
function upwardImports(graph: Graph): string[] {
  const upward: string[] = [];
  for (const [file, deps] of graph) {
    const [top, floor] = floorOf(file);
    for (const dep of deps) {
      assert.ok(graph.has(dep), `${relative(SRC, file)} imports ${relative(SRC, dep)}, which does not exist`);
      const [depTop, depFloor] = floorOf(dep);
      if (depTop !== top && depFloor >= floor) upward.push(`${relative(SRC, file)} (${top}, floor ${floor}) -> ${relative(SRC, dep)} (${depTop}, floor ${depFloor})`);
    }
  }
  return upward;
}

/** Files that import each other around a circle (Tarjan's strongly connected components of more than one file). */
function circles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(relative(SRC, w)); } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const f of graph.keys()) if (!index.has(f)) visit(f);
  return found;
}

const files = sourceFiles(SRC);
const graph: Graph = new Map(files.map((f) => [f, importsOf(f)]));

test('every import in node/src goes down the floors or stays in its folder', () => {
  assert.ok(files.length > 100, `only ${files.length} files read from ${SRC}`);
  assert.deepEqual(upwardImports(graph), []);
});

test('no import circle between files of node/src', () => {
  assert.deepEqual(circles(graph), []);
});

test('the checks see an upward import and a circle', () => {
  const at = (p: string): string => join(SRC, p);
  const bad: Graph = new Map([
    [at('raft/a.ts'), [at('runtime/b.ts')]],
    [at('runtime/b.ts'), [at('raft/a.ts'), at('runtime/c.ts')]],
    [at('runtime/c.ts'), [at('runtime/b.ts')]],
  ]);
  assert.deepEqual(upwardImports(bad), ['raft/a.ts (raft, floor 0) -> runtime/b.ts (runtime, floor 5)']);
  assert.deepEqual(circles(bad), [['raft/a.ts', 'runtime/b.ts', 'runtime/c.ts']]);
});
