// The Bun adapter: the shared suite against a real Bun process running the fixture server.
// Bun comes from WEBSOCK_BUN, node_modules/.bin/bun (what .ci/run installs), or the PATH.

import { adapterSuite, findBun, startChild } from "./_adapter_suite.ts";

const root = new URL("..", import.meta.url).pathname;

const bun = await findBun();
if (bun === undefined) {
  console.warn("Skipping the Bun tests: no bun binary (set WEBSOCK_BUN or run .ci/run)");
}

Deno.test({
  name: "websockServe() serves the suite under real Bun",
  ignore: bun === undefined,
  async fn(t) {
    await adapterSuite(t, (handler, options, upgrade) =>
      startChild(bun!, [
        `${root}tests/fixtures/bun_server.ts`,
        "--handler",
        handler,
        "--options",
        JSON.stringify(options),
        ...(upgrade ? ["--upgrade", upgrade] : []),
      ]));
  },
});
