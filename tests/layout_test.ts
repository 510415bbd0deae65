// The layering docs/development.md's "Layout" describes, checked on the import graph of every entry:
// no cycle, the core touches no runtime, private files stay in their folder, no module over
// 600 lines.

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

Deno.test("no library module is over 600 lines", async () => {
  for (const path of graph.keys()) {
    const lines = (await Deno.readTextFile(new URL(path, root))).split("\n").length;
    assert.ok(lines <= 600, `${path} has ${lines} lines`);
  }
});
