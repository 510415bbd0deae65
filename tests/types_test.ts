// The types, checked the way users meet them: `deno check` on what must compile (the handlers
// and calls of tests/types/compiles.ts and every TypeScript block of the README and docs/) and on what
// must not (tests/types/must_not_compile.md, each block with the error codes it must raise).

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const MUST_NOT = "tests/types/must_not_compile.md";

interface Diagnostic {
  /** `TS2554` and the like. */
  readonly code: string;
  readonly message: string;
  /** The file, or `file.md#12-20.ts` for a Markdown block (its first and last lines). */
  readonly module: string;
  readonly line: number;
  readonly column: number;
}

/** Run `deno check` with these arguments in the repository; its diagnostics, parsed. */
async function check(args: string[]): Promise<{ success: boolean; diagnostics: Diagnostic[] }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--lock=deno.lock", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
  const diagnostics: Diagnostic[] = [];
  let pending: { code: string; message: string } | undefined;
  for (const line of text.split("\n")) {
    // An indented message under a diagnostic is related information: part of its text.
    const related = /^TS\d+ \[ERROR\]: {4}(.*)$/.exec(line);
    if (related && diagnostics.length > 0) {
      const last = diagnostics[diagnostics.length - 1];
      diagnostics[diagnostics.length - 1] = { ...last, message: `${last.message} ${related[1]}` };
      continue;
    }
    const head = /^(TS\d+) \[ERROR\]: (.*)$/.exec(line);
    if (head) {
      pending = { code: head[1], message: head[2] };
      continue;
    }
    // The first location under a diagnostic (4 spaces) is where it is; deeper ones are related.
    const at = /^ {4}at (\S+):(\d+):(\d+)$/.exec(line);
    if (at && pending) {
      const module = decodeURIComponent(at[1]).replace(root.href, "");
      diagnostics.push({ ...pending, module, line: Number(at[2]), column: Number(at[3]) });
      pending = undefined;
    }
  }
  if (!output.success && diagnostics.length === 0) {
    throw new Error(`deno check ${args.join(" ")} failed without a diagnostic:\n${text}`);
  }
  return { success: output.success, diagnostics };
}

function describe(diagnostics: readonly Diagnostic[]): string {
  return diagnostics.map((d) => `${d.code} at ${d.module}:${d.line}:${d.column}: ${d.message}`)
    .join("\n");
}

/**
 * The `expect: TS1, TS2` line before each ```ts block, keyed by the block's first line, and
 * the `- says: text` items (what the block's errors must say, in order, one per error).
 */
async function expectations(
  path: string,
): Promise<Map<number, { codes: string[]; says: string[] }>> {
  const lines = (await Deno.readTextFile(new URL(path, root))).split("\n");
  const expected = new Map<number, { codes: string[]; says: string[] }>();
  let codes: string[] | undefined;
  let says: string[] = [];
  lines.forEach((line, i) => {
    const expect = /^expect: (.+)$/.exec(line);
    if (expect) codes = expect[1].split(",").map((code) => code.trim());
    const said = /^- says: (.+)$/.exec(line);
    if (said) says.push(said[1]);
    if (line.startsWith("```ts")) {
      assert.ok(codes, `${path}:${i + 1}: a block without an "expect:" line before it`);
      expected.set(i + 1, { codes, says });
      codes = undefined;
      says = [];
    }
  });
  return expected;
}

Deno.test("WebSock types: handlers and calls as the README and docs/ write them compile", async () => {
  const docs: string[] = [];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) docs.push(`docs/${entry.name}`);
  }
  assert.ok(docs.length >= 8, `only ${docs.length} pages in docs/`);
  const { success, diagnostics } = await check([
    "tests/types/compiles.ts",
    "--doc-only",
    "README.md",
    ...docs.sort(),
  ]);
  assert.equal(diagnostics.length, 0, describe(diagnostics));
  assert.ok(success);
});

Deno.test("WebSock types: each mistake fails with the TypeScript errors it names", async () => {
  const expected = await expectations(MUST_NOT);
  assert.ok(expected.size >= 10, `only ${expected.size} blocks in ${MUST_NOT}`);
  const { success, diagnostics } = await check(["--doc-only", MUST_NOT]);
  assert.equal(success, false);
  const got = new Map<number, Diagnostic[]>();
  for (const d of diagnostics) {
    const block = new RegExp(`^${MUST_NOT}#(\\d+)-\\d+\\.ts$`).exec(d.module);
    assert.ok(block, `an error outside the blocks:\n${describe([d])}`);
    const start = Number(block[1]);
    got.set(start, [...got.get(start) ?? [], d]);
  }
  for (const [start, { codes, says }] of expected) {
    // deno check numbers a block from the line of its opening fence.
    const found = (got.get(start) ?? []).sort((a, b) => a.line - b.line || a.column - b.column);
    assert.deepEqual(
      found.map((d) => d.code),
      codes,
      `${MUST_NOT}:${start}: expected ${codes.join(", ")}, got:\n${describe(found) || "nothing"}`,
    );
    says.forEach((text, i) => {
      assert.ok(
        found[i].message.includes(text),
        `${MUST_NOT}:${start}: error ${i + 1} does not say "${text}":\n${describe([found[i]])}`,
      );
    });
    got.delete(start);
  }
  assert.equal(got.size, 0, `errors in blocks without expectations: ${[...got.keys()]}`);
});
