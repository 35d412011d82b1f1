import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// The architecture says data flows one way: scenario → postgres/proxy/service/webhooks →
// lifecycle, and report reads results, never the other way. These checks make the imports say
// so: no module of harness/ imports itself around a circle (type-only imports count: a type
// shared both ways is a concern that wants a home of its own), and a folder only imports
// folders of a lower rank.

/** Each folder's rank: a folder may import only folders ranked strictly lower. */
const RANKS: Record<string, number> = {
  errors: 0,
  random: 0,
  lifecycle: 0,
  terminal: 0,
  postgres: 1,
  service: 1,
  webhooks: 1,
  proxy: 2,
  scenario: 3,
  config: 4,
  load: 4,
  init: 4,
  // drift reads catalogs on postgres's servers and writes drift steps as a matrix axis.
  drift: 4,
  k6: 5,
  report: 6,
  // explore writes its findings with report's JUnit and file writers.
  explore: 7,
  gate: 7,
  incident: 7,
  suite: 8,
  vitest: 9,
  cli: 10,
  index: 10,
};

type Graph = Map<string, string[]>;

/** Every non-test .ts file under `root` and the files under `root` it imports (static and dynamic). */
function importGraph(root: string): Graph {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (full.endsWith(".ts") && !/\.test\.ts$/.test(full)) files.push(full);
    }
  };
  walk(root);
  const known = new Set(files);
  const graph: Graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const specs = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["'](\.{1,2}\/[^"']+)["']/g),
      ...text.matchAll(/(?:^|\n)\s*import\s+["'](\.{1,2}\/[^"']+)["']/g),
      ...text.matchAll(/\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g),
    ].map((m) => path.resolve(path.dirname(file), m[1] as string));
    graph.set(
      file,
      [...new Set(specs)].filter((d) => known.has(d)),
    );
  }
  return graph;
}

/** The strongly connected components of more than one file (or a file importing itself). */
function cycles(graph: Graph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The folder (concern) of a file under `root`: its first path segment, `cli.ts` → `cli`. */
function concern(root: string, file: string): string {
  return (path.relative(root, file).split(path.sep)[0] as string).replace(/\.ts$/, "");
}

/** Imports from a folder to one of equal or higher rank, as "from → to (file → file)". */
function layerViolations(root: string, graph: Graph, ranks: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    const from = concern(root, file);
    for (const dep of deps) {
      const to = concern(root, dep);
      if (from === to) continue;
      const [a, b] = [ranks[from], ranks[to]];
      if (a === undefined || b === undefined || b >= a)
        out.push(
          `${from} → ${to} (${path.relative(root, file)} → ${path.relative(root, dep)})${a === undefined || b === undefined ? ": a folder with no rank; give it one" : ""}`,
        );
    }
  }
  return out.sort();
}

const HARNESS = path.dirname(fileURLToPath(import.meta.url));

describe("harness/ imports flow one way", () => {
  it("has no import cycle", () => {
    const found = cycles(importGraph(HARNESS)).map((c) =>
      c.map((f) => path.relative(HARNESS, f)).join(" ⇄ "),
    );
    expect(found).toEqual([]);
  });

  it("imports only folders ranked below the importer", () => {
    expect(layerViolations(HARNESS, importGraph(HARNESS), RANKS)).toEqual([]);
  });
});

describe("the checks themselves", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "faultline-architecture-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(scratch, rel)), { recursive: true });
    writeFileSync(path.join(scratch, rel), text);
  };

  it("find a deliberately added cycle, type-only imports and dynamic imports included", () => {
    write(
      "load/run.ts",
      'import type { Colour } from "../report/colour.ts";\nexport type Run = 1;\n',
    );
    write("report/colour.ts", 'export type Colour = 1;\nconst lazy = () => import("./html.ts");\n');
    write("report/html.ts", 'import type { Run } from "../load/run.ts";\n');
    write("report/free.test.ts", 'import "../load/run.ts";\n');
    const graph = importGraph(scratch);
    expect(cycles(graph).map((c) => c.map((f) => path.relative(scratch, f)))).toEqual([
      ["load/run.ts", "report/colour.ts", "report/html.ts"],
    ]);
    expect(layerViolations(scratch, graph, { load: 4, report: 6 })).toEqual([
      "load → report (load/run.ts → report/colour.ts)",
    ]);
    expect(layerViolations(scratch, graph, { report: 6 })[0]).toContain("a folder with no rank");
  });
});
