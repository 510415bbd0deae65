// Builds the API docs of every deno.json entry with `deno doc --html` (what JSR renders, each
// entry's @module doc first) into the directory given (default dist/docs, git-ignored; CI keeps
// it as an artifact folder). Exits 1 when deno doc fails or warns. Run by `deno task doc-html`;
// tests/docs_test.ts runs it into a temporary directory.
//
// deno doc 2.9.6 resolves @types/node's `/// <reference path="zlib.d.ts" />` as packages
// (denoland/deno#36751, a deno_graph bug; `deno check` is clean): those warnings, about a file
// of @types/node, are counted and not ours. Any other warning fails.

const output = Deno.args[0] ?? "dist/docs";
const config = JSON.parse(await Deno.readTextFile("deno.json"));
const entries = Object.values(config.exports as Record<string, string>);
await Deno.mkdir(output, { recursive: true });
const result = await new Deno.Command(Deno.execPath(), {
  args: [
    "doc",
    "--lock=deno.lock",
    "--html",
    "--name=@websock/websock",
    `--output=${output}`,
    ...entries,
  ],
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const lines = new TextDecoder().decode(result.stderr).split("\n");
const warnings = lines.filter((line) => line.startsWith("Warning"));
const known = warnings.filter((line) => /from referrer '[^']*\/@types\/node\//.test(line));
const ours = warnings.filter((line) => !known.includes(line));
for (const line of ours) console.error(line);
if (!result.success) console.error(lines.join("\n"));
console.log(
  `deno doc --html: ${entries.length} entries into ${output}; ${ours.length} warnings ` +
    `(${known.length} about @types/node's path references left out: denoland/deno#36751)`,
);
if (!result.success || ours.length > 0) Deno.exit(1);
