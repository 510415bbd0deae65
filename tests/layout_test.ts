// The layering docs/development.md's "Layout" describes, checked on the import graph of every
// entry: no cycle, the core touches no runtime, private files stay in their folder, no function
// over 60 lines (files are split by what they are about, not by size), and no adapter over 150
// lines of code (adapters translate; what has meaning is in the engine's adapter kit).

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const entries: string[] = Object.values(config.exports);

interface Module {
  specifier: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

// Library modules (file: URLs under the repo) and what each imports, from `deno info --json`.
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "null",
    }).output();
    assert.ok(output.success, `deno info ${entry} failed`);
    const modules: Module[] = JSON.parse(new TextDecoder().decode(output.stdout)).modules;
    for (const module of modules) {
      if (!module.specifier.startsWith(root.href)) continue;
      const path = module.specifier.slice(root.href.length);
      const imports = (module.dependencies ?? []).map((d) =>
        d.code?.specifier ?? d.type?.specifier ?? d.specifier
      );
      graph.set(path, imports.map((s) => s.startsWith(root.href) ? s.slice(root.href.length) : s));
    }
  }
  return graph;
}

const graph = await importGraph();
const local = (path: string) => graph.has(path);

Deno.test("the library's import graph has no cycle", () => {
  const state = new Map<string, "open" | "done">();
  const visit = (path: string, trail: string[]): void => {
    if (state.get(path) === "done") return;
    assert.notEqual(state.get(path), "open", `import cycle: ${[...trail, path].join(" -> ")}`);
    state.set(path, "open");
    for (const next of graph.get(path)!.filter(local)) visit(next, [...trail, path]);
    state.set(path, "done");
  };
  for (const path of graph.keys()) visit(path, []);
});

// The runtime-neutral part of pub/sub (the Redis backends are optional entries with npm deps).
const PUBSUB_CORE = [
  "pubsub/pubsub.ts",
  "pubsub/history.ts",
  "pubsub/history_backend.ts",
  "pubsub/memory_history.ts",
  "pubsub/_epoch.ts",
];

Deno.test("the behaviour and the engine import nothing from a runtime, an adapter or npm", async () => {
  const core = [...graph.keys()].filter((p) =>
    !p.includes("/") || p.startsWith("engine/") || p.startsWith("presence/") ||
    PUBSUB_CORE.includes(p)
  );
  assert.ok(core.includes("engine/engine.ts") && core.includes("websock.ts"));
  for (const path of core) {
    for (const target of graph.get(path)!) {
      assert.ok(
        local(target) && !target.startsWith("adapters/") && !target.startsWith("testing/"),
        `${path} imports ${target}`,
      );
    }
    const code = (await Deno.readTextFile(new URL(path, root)))
      .split("\n").filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line)).join("\n");
    assert.doesNotMatch(code, /\b(Deno|Bun)\.[a-zA-Z]/, `${path} uses a runtime API`);
  }
});

Deno.test("private files are imported only from their own folder (engine/_kit.ts: adapters)", () => {
  for (const [path, imports] of graph) {
    const folder = path.slice(0, path.lastIndexOf("/") + 1);
    for (const target of imports.filter(local)) {
      const name = target.slice(target.lastIndexOf("/") + 1);
      if (!name.startsWith("_")) continue;
      const allowed = target.slice(0, target.lastIndexOf("/") + 1) === folder ||
        (target === "engine/_kit.ts" && path.startsWith("adapters/"));
      assert.ok(allowed, `${path} imports private ${target}`);
    }
  }
});

// Functions are read in one go: none is over 60 lines, but for these (and why). An exception
// that is no longer over the cap fails too, so the list cannot go stale.
const MAX_FUNCTION_LINES = 60;
const LONG_FUNCTIONS: Record<string, string> = {
  "pubsub/pubsub.ts #deliver": "one publish's hot loop over the subscribers, fastlane inlined",
  "telemetry/metrics.ts prometheus": "the exposition, one family after another in a fixed order",
  "telemetry/otel.ts constructor": "the OpenTelemetry instruments, declared one after another",
};

/** Functions, class members and top-level arrow functions of deno-fmt'ed code, with lengths. */
function functionsOf(lines: readonly string[]): { name: string; line: number; length: number }[] {
  const found: { name: string; line: number; length: number }[] = [];
  const classes: number[] = []; // the indentation of each class body we are in
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const text = line.trimStart();
    const indent = line.length - text.length;
    while (classes.length > 0 && line === " ".repeat(classes[classes.length - 1]) + "}") {
      classes.pop();
    }
    if (/^(export )?(default )?(abstract )?class\b.*\{$/.test(text)) {
      classes.push(indent);
      continue;
    }
    if (text.endsWith(";")) continue; // a one-line declaration
    const fn = indent === 0 && /^(export )?(default )?(async )?function\*? ?([\w$]*)/.exec(text);
    // An arrow counts when it has a body: `=> {` on its line, or parameters that go on.
    const arrow = indent === 0 && /(\{|\()$/.test(text) &&
      /^(export )?const ([\w$]+)\s*(:.*)?=\s*(async )?[(<]/.exec(text);
    const member = classes.length > 0 && indent === classes[classes.length - 1] + 2 &&
      /^((static|async|get|set|override) )*(#?[\w$]+)\s*(<.*>)?\(/.exec(text);
    const name = fn ? fn[4] || "default" : arrow ? arrow[2] : member ? member[3] : undefined;
    if (name === undefined) continue;
    const close = " ".repeat(indent) + "}";
    let end = i;
    while (
      end < lines.length &&
      !(lines[end] === close ||
        /^[;),]/.test(lines[end].slice(close.length)) && lines[end].startsWith(close))
    ) end++;
    if (end < lines.length) found.push({ name, line: i + 1, length: end - i + 1 });
  }
  return found;
}

Deno.test(`no library function is over ${MAX_FUNCTION_LINES} lines (but the listed ones)`, async () => {
  const long = new Map<string, number>();
  for (const path of graph.keys()) {
    const lines = (await Deno.readTextFile(new URL(path, root))).split("\n");
    for (const { name, line, length } of functionsOf(lines)) {
      if (length <= MAX_FUNCTION_LINES) continue;
      const key = `${path} ${name}`;
      long.set(key, length);
      assert.ok(key in LONG_FUNCTIONS, `${path}:${line} ${name}() has ${length} lines`);
    }
  }
  for (const key of Object.keys(LONG_FUNCTIONS)) {
    assert.ok(long.has(key), `${key} is no longer over ${MAX_FUNCTION_LINES} lines: unlist it`);
  }
});

Deno.test("functionsOf() finds functions, methods and arrows, and their lengths", () => {
  const code = [
    "export function a(",
    "  x: number,",
    ") {",
    "  return x;",
    "}",
    "const b = (x: number) => x;",
    "const b2 = (x: number) =>",
    "  x;",
    "export const c = (x: number) => {",
    "  return x;",
    "};",
    "class D {",
    "  readonly e = 1;",
    "  #f(): void {",
    "    if (this.e) {",
    "    }",
    "  }",
    "  static async g() {",
    "  }",
    "}",
  ];
  assert.deepEqual(functionsOf(code), [
    { name: "a", line: 1, length: 5 },
    { name: "c", line: 9, length: 3 },
    { name: "#f", line: 14, length: 4 },
    { name: "g", line: 18, length: 2 },
  ]);
});

// Adapters are translation only (issue 19): each is at most 150 lines of code, counted
// without blank lines, comments (JSDoc and its examples included) and re-export lists.
const MAX_ADAPTER_LINES = 150;
const ADAPTERS = ["adapters/deno.ts", "adapters/node.ts", "adapters/bun.ts"];

/** The code lines of deno-fmt'ed code: not blank, not a comment, not an `export {…} from`. */
function codeLines(lines: readonly string[]): number {
  let count = 0;
  let comment = false; // inside a /* */ or /** */ block
  let list = 0; // lines of an `export {` list not closed yet: code, unless it ends with `from`
  for (const line of lines) {
    const text = line.trim();
    if (comment) comment = !text.includes("*/");
    else if (list > 0) {
      list++;
      if (!text.startsWith("}")) continue;
      if (!/^\}\s*from\s/.test(text)) count += list;
      list = 0;
    } else if (text === "" || text.startsWith("//")) continue;
    else if (text.startsWith("/*")) comment = !text.includes("*/");
    else if (/^export (type )?\{/.test(text)) {
      if (!text.includes("}")) list = 1;
      else if (!/\}\s*from\s/.test(text)) count++;
    } else count++;
  }
  return count;
}

Deno.test(`every adapter has at most ${MAX_ADAPTER_LINES} lines of code`, async (t) => {
  for (const path of ADAPTERS) {
    const count = codeLines((await Deno.readTextFile(new URL(path, root))).split("\n"));
    await t.step(`${path}: ${count} lines of code`, () => {
      assert.ok(count <= MAX_ADAPTER_LINES, `${path} has ${count} lines of code`);
    });
  }
});

Deno.test("codeLines() counts code, not comments, blank lines or re-export lists", () => {
  const code = [
    "/**",
    " * A module.",
    " * ```ts",
    " * const example = 1;",
    " * ```",
    " */",
    "",
    'import { a } from "./a.ts";',
    "export type {",
    "  B,",
    '} from "./b.ts";',
    'export { C, type D } from "./c.ts";',
    "export { e };",
    "export {",
    "  f,",
    "};",
    "// a comment",
    "/** One line. */",
    "const e = a; /* not a comment line */",
    "const f = 2;",
  ];
  assert.equal(codeLines(code), 7);
});
