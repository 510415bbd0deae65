// Lists the exported functions and classes of every deno.json entry that have no @example
// that `deno test --doc` type-checks (one not marked `ignore`); exits 1 when there is one.
// Run by `deno task doc-examples`, part of `deno task ok`. A symbol re-exported by several
// entries is listed once, where it is declared.

interface JsDoc {
  tags?: { kind: string; doc?: string }[];
}
interface Declaration {
  kind: string;
  declarationKind?: string;
  location: { filename: string; line: number };
  jsDoc?: JsDoc;
}
interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

// Declarations whose example lives elsewhere, and why.
const EXCEPTIONS: Record<string, string> = {};

const config = JSON.parse(await Deno.readTextFile("deno.json"));
const entries = Object.values(config.exports as Record<string, string>);
const missing = new Map<string, string>();
const seen = new Set<string>();
const excepted = new Set<string>();
for (const entry of entries) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lock=deno.lock", "--json", entry],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!output.success) throw new Error(`deno doc --json ${entry} failed`);
  const doc = JSON.parse(new TextDecoder().decode(output.stdout));
  for (const module of Object.values(doc.nodes) as { symbols?: DocSymbol[] }[]) {
    for (const symbol of module.symbols ?? []) {
      for (const d of symbol.declarations) {
        if (d.kind !== "function" && d.kind !== "class") continue;
        if (d.declarationKind === "private") continue;
        const where = `${
          d.location.filename.replace(/^.*?\/(?=[^/]+\/[^/]+$|[^/]+$)/, "")
        }:${d.location.line}`;
        seen.add(where);
        const checked = (tag: { kind: string; doc?: string }) =>
          tag.kind === "example" && /```(ts|typescript)(\n| (?!.*\bignore\b))/.test(tag.doc ?? "");
        if (d.jsDoc?.tags?.some(checked)) continue;
        if (`${d.kind} ${symbol.name}` in EXCEPTIONS) excepted.add(where);
        else missing.set(where, `${d.kind} ${symbol.name} (${where}, from ${entry})`);
      }
    }
  }
}
for (const line of missing.values()) console.log(`no type-checked @example: ${line}`);
for (const [name, why] of Object.entries(EXCEPTIONS)) console.log(`excepted: ${name}: ${why}`);
console.log(
  `${seen.size - missing.size - excepted.size} of ${seen.size} exported functions and classes ` +
    `of ${entries.length} entries have a type-checked @example (${excepted.size} excepted)`,
);
if (missing.size > 0) Deno.exit(1);
