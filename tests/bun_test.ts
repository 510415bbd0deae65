// The Bun adapter: the shared suite against a real Bun process running the fixture server.
// Bun comes from WEBSOCK_BUN, node_modules/.bin/bun (what .ci/run installs), or the PATH.

import assert from "node:assert/strict";
import { Raw, upgradeRequest } from "../testing/_raw.ts";
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

Deno.test({
  name: "websockServe() tells terminate timeout when Bun's own idle timeout closes a silent peer",
  ignore: bun === undefined,
  async fn() {
    // bunIdleTimeout 1 s: Bun pings after ~4 s (its timer ticks every 4 s) and closes the
    // connection (1006, "WebSocket timed out from inactivity") ~4 s later if no pong came.
    const server = await startChild(bun!, [
      `${root}tests/fixtures/bun_server.ts`,
      "--handler",
      "echo",
      "--options",
      JSON.stringify({ bunIdleTimeout: 1, timeout: 0 }),
    ]);
    try {
      using raw = await Raw.connect(server.port);
      await raw.write(
        upgradeRequest({ Host: `127.0.0.1:${server.port}` }, "GET /?id=quiet HTTP/1.1"),
      );
      assert.equal((await raw.response()).status, 101);
      // Never answer Bun's ping.
      assert.deepEqual(await server.report("quiet", 30_000), { type: "timeout" });
    } finally {
      await server.close();
    }
  },
});
