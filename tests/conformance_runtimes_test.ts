// The conformance suite against the Node adapter under real Node and the Bun adapter under
// real Bun: each server is a child process serving ConformanceHandler.

import assert from "node:assert/strict";
import { conformance, type ConformanceAdapter } from "../testing/conformance.ts";
import {
  bundleNodeServer,
  findBun,
  findNode,
  type FixtureServer,
  startChild,
} from "./_adapter_suite.ts";

const root = new URL("..", import.meta.url).pathname;

// What the conformance handler provokes on purpose: a throw, an invalid result, a close code
// that cannot be sent.
const EXPECTED_ERRORS =
  /^(conformance-secret-detail|Invalid result from handleIn: .*|Cannot close WebSocket: code .*)$/;

function childAdapter(
  name: string,
  command: string,
  script: () => Promise<string>,
  knownFailures?: Record<string, string>,
): ConformanceAdapter {
  return {
    name,
    controlFrames: true,
    compression: true,
    knownFailures,
    async start(options) {
      const server: FixtureServer = await startChild(command, [
        await script(),
        "--handler",
        "conformance",
        "--options",
        JSON.stringify({ ...options, origins: "same-origin" }),
      ]);
      return {
        port: server.port,
        async shutdown() {
          const response = await fetch(`http://127.0.0.1:${server.port}/shutdown`);
          await response.body?.cancel();
        },
        async stop() {
          await server.close();
          // The errors the checks provoke (the child reports them instead of logging them).
          for (const error of server.errors("")) {
            assert.match(String(error.message), EXPECTED_ERRORS, JSON.stringify(error));
          }
        },
      };
    },
  };
}

const node = await findNode();
const bun = await findBun();
if (node === undefined) console.warn("Skipping conformance under real Node: no node binary");
if (bun === undefined) console.warn("Skipping conformance under real Bun: no bun binary");

let bundle: Promise<string> | undefined;
if (node !== undefined) {
  conformance(childAdapter("node (real Node, ws)", node, () => bundle ??= bundleNodeServer()));
}
if (bun !== undefined) {
  conformance(
    childAdapter(
      "bun (real Bun)",
      bun,
      () => Promise.resolve(`${root}tests/fixtures/bun_server.ts`),
      { "HTTP/1.0 upgrade": "Bun.serve's Request does not show the HTTP version" },
    ),
  );
}
