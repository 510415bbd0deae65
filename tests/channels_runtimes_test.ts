// The phoenix scenario (fixtures/phoenix_scenario.ts) across runtimes: the client under Deno
// against the Node adapter under real Node and the Bun adapter under real Bun (with a server
// restart the client comes back from), the client under Node 20 with npm:ws against the Deno
// adapter, and the client in headless Chromium against the Deno adapter.

import assert from "node:assert/strict";
import { websockHandler } from "../adapters/deno.ts";
import { channelsApp } from "./fixtures/channels_app.ts";
import { EXPECTED, phoenixScenario } from "./fixtures/phoenix_scenario.ts";
import { findBun, findNode, type FixtureServer, startChild, within } from "./_adapter_suite.ts";
import { disconnect, outcome, phoenixSocket, Socket, until } from "./_phoenix.ts";
import { CHROMIUM, launchChromium, tempDir, waitFor } from "./_browser.ts";

const root = new URL("..", import.meta.url).pathname;
const checkout = root.replace(/[^A-Za-z0-9]+/g, "_");
const node = await findNode();
const bun = await findBun();
if (node === undefined) console.warn("Skipping the phoenix client runs on real Node: no node");
if (bun === undefined) console.warn("Skipping the phoenix client runs on real Bun: no bun");
if (CHROMIUM === undefined) console.warn("Skipping the phoenix client in Chromium: no chromium");

async function bundle(entry: string, platform: "node" | "browser"): Promise<string> {
  const out = `${root}node_modules/.cache/websock/${entry.replace(/\W+/g, "_")}${checkout}.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", platform, "-o", out, `${root}${entry}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle ${entry} failed: ${new TextDecoder().decode(stderr)}`);
  return out;
}

const ARGS = [
  "--handler",
  "channels",
  "--upgrade",
  "channels",
  "--options",
  '{"protocols":["phoenix"]}',
];

/** The scenario, then a restart of the server process on the same port: the client rejoins. */
async function againstChild(start: (port?: number) => Promise<FixtureServer>): Promise<void> {
  let server = await start();
  try {
    const url = `ws://127.0.0.1:${server.port}/socket`;
    assert.deepEqual(await phoenixScenario(Socket, url), EXPECTED);

    const socket = phoenixSocket(url, { params: { user: "re" }, authToken: "good-token" });
    socket.connect();
    const room = socket.channel("room:restart");
    assert.equal((await outcome(room.join())).status, "ok");
    assert.deepEqual((await outcome(room.push("count", {}))).response, { count: 1 });
    let errors = 0;
    room.onError(() => errors++);
    const port = server.port;
    await server.close(); // SIGKILL: the process is gone, its sockets with it
    await until(() => errors > 0, "the client to see the server go");
    server = await start(port);
    await until(() => room.state === "joined", "the client to rejoin the new server");
    assert.deepEqual((await outcome(room.push("count", {}))).response, { count: 1 });
    await disconnect(socket);
  } finally {
    await server.close();
  }
}

Deno.test({
  name: "phoenix client (Deno) against websockUpgrade() under real Node",
  ignore: node === undefined,
  async fn() {
    const script = await bundle("tests/fixtures/node_server.ts", "node");
    await againstChild((port) =>
      startChild(node!, [script, ...ARGS, ...(port ? ["--port", String(port)] : [])])
    );
  },
});

Deno.test({
  name: "phoenix client (Deno) against websockServe() under real Bun",
  ignore: bun === undefined,
  async fn() {
    await againstChild((port) =>
      startChild(bun!, [
        `${root}tests/fixtures/bun_server.ts`,
        ...ARGS,
        ...(port ? ["--port", String(port)] : []),
      ])
    );
  },
});

Deno.test("phoenix client (Deno) against websockHandler() on Deno", async () => {
  const app = channelsApp();
  const handler = websockHandler(app, app.adapterOptions);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    const url = `ws://127.0.0.1:${server.addr.port}/socket`;
    assert.deepEqual(await phoenixScenario(Socket, url), EXPECTED);
  } finally {
    await handler.shutdown();
    await server.shutdown();
  }
});

Deno.test({
  name: "phoenix client under real Node 20 (npm:ws transport) against websockHandler() on Deno",
  ignore: node === undefined,
  async fn() {
    const script = await bundle("tests/fixtures/phoenix_node_client.ts", "node");
    const app = channelsApp();
    const handler = websockHandler(app, app.adapterOptions);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    try {
      const output = await within(
        new Deno.Command(node!, {
          args: [script, `ws://127.0.0.1:${server.addr.port}/socket`],
          stdout: "piped",
          stderr: "inherit",
          stdin: "null",
        }).output(),
        60_000,
        "the Node client",
      );
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      const result = JSON.parse(lines.at(-1)!);
      assert.equal(result.error, undefined, String(result.error));
      assert.deepEqual(result.seen, EXPECTED);
      assert.ok(output.success);
    } finally {
      await handler.shutdown();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "phoenix client in headless Chromium against websockHandler() on Deno",
  ignore: CHROMIUM === undefined,
  async fn() {
    const script = await Deno.readTextFile(
      await bundle("tests/fixtures/phoenix_page.ts", "browser"),
    );
    const page = `<!doctype html><meta charset="utf-8"><title>phoenix</title>` +
      `<script type="module" src="/phoenix_page.mjs"></script>`;
    const app = channelsApp();
    const handler = websockHandler(app, {
      ...app.adapterOptions,
      fallback(request) {
        const { pathname } = new URL(request.url);
        if (pathname === "/") {
          return new Response(page, { headers: { "content-type": "text/html" } });
        }
        if (pathname === "/phoenix_page.mjs") {
          return new Response(script, { headers: { "content-type": "text/javascript" } });
        }
        return new Response("Not found", { status: 404 });
      },
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    await using dir = await tempDir();
    try {
      await using chromium = await launchChromium(CHROMIUM!, dir);
      const tab = await chromium.newPage();
      await tab.goto(`http://127.0.0.1:${server.addr.port}/`);
      await waitFor(tab, "window.__result !== undefined", 60_000);
      const result = await tab.evaluate("window.__result") as { seen?: unknown; error?: string };
      assert.equal(result.error, undefined, String(result.error));
      assert.deepEqual(result.seen, EXPECTED);
    } finally {
      await handler.shutdown();
      await server.shutdown();
    }
  },
});
