// The conformance suite can fail: run it against deliberately broken adapters in a child
// `deno test` and check that the right checks fail.

import assert from "node:assert/strict";

async function runBroken(which: string): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-check", "tests/fixtures/broken_conformance.ts"],
    env: { BROKEN: which, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("conformance() fails an adapter that drops the peer's close code", async () => {
  const { code, output } = await runBroken("close-code");
  assert.notEqual(code, 0, output);
  assert.match(output, /the peer's close code and reason reach terminate as remote \.\.\. FAILED/);
  assert.match(output, /"code":4321/);
});

Deno.test("conformance() fails an adapter that lets async callbacks interleave", async () => {
  const { code, output } = await runBroken("interleave");
  assert.notEqual(code, 0, output);
  assert.match(output, /async callbacks never overlap and messages keep their order \.\.\. FAILED/);
});
