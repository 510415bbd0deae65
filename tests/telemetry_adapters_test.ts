// One scripted session against every adapter with `Metrics` as its telemetry: Deno in this
// process, Node (npm:ws) under real Node and under Deno's Node compatibility, Bun under real
// Bun. The counts must be exact and the same everywhere, except the ping that only the Node and
// Bun adapters see. The fixture servers serve the snapshot on GET /metrics.json and the
// Prometheus text on GET /metrics (tests/fixtures/_args.ts).

import assert from "node:assert/strict";
// @ts-types="npm:@types/ws@^8"
import { WebSocket as WsClient } from "npm:ws@^8";
import { websockHandler } from "../adapters/deno.ts";
import { websockUpgrade } from "../adapters/node.ts";
import { Metrics, type MetricsSnapshot } from "../telemetry/mod.ts";
import { fixtureServer } from "./fixtures/_node_fixture.ts";
import { metricsResponse } from "./fixtures/_args.ts";
import { handlers, reportError, setReporter } from "./fixtures/handlers.ts";
import {
  bundleNodeServer,
  findBun,
  findNode,
  type FixtureServer,
  Reports,
  startChild,
  within,
} from "./_adapter_suite.ts";
import { connect, Raw, upgradeRequest } from "./_helpers.ts";
import { parsePrometheus, valueOf } from "./_prometheus_format.ts";

const root = new URL("..", import.meta.url).pathname;

// The session: one refused upgrade (426); `a` echoes text (one of it not ASCII) and binary, then
// asks for 4000 "bye"; `b`'s handler throws (1011); `c` pings (npm:ws), then closes with 1000.
async function session(server: FixtureServer): Promise<void> {
  const { port } = server;
  {
    using raw = await Raw.connect(port);
    await raw.write(upgradeRequest({ "Sec-WebSocket-Version": "12" }));
    assert.equal((await within(raw.response(), 5000, "426")).status, 426);
  }
  const url = (id: string) => `ws://127.0.0.1:${port}/?id=${id}`;
  const a = await connect(url("a"));
  a.send("hello");
  assert.equal(await a.next(), "hello");
  a.send("né ✓"); // 4 UTF-16 units, 7 UTF-8 bytes
  assert.equal(await a.next(), "né ✓");
  a.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await a.next(), new Uint8Array([1, 2, 3]));
  a.send("stop:4000:bye");
  assert.equal((await a.closed).code, 4000);
  assert.equal((await server.report("a")).code, 4000);

  const b = await connect(url("b"));
  b.send("throw");
  assert.equal((await b.closed).code, 1011);
  assert.equal((await server.report("b")).type, "error");
  assert.deepEqual(server.errors("b"), [{ source: "handleIn", name: "Error", message: "boom" }]);

  const c = new WsClient(url("c"), { perMessageDeflate: false });
  await within(
    new Promise((resolve, reject) => c.once("open", resolve).once("error", reject)),
    5000,
    "c open",
  );
  const pong = new Promise((resolve) => c.once("pong", resolve));
  c.ping("p");
  await within(pong, 5000, "pong");
  // Node and Bun: handleControl pushed "control:ping:p" in the same task as the ping arrived,
  // so it is counted before the close below can arrive.
  const closed = new Promise((resolve) => c.once("close", resolve));
  c.close(1000, "done");
  await within(closed, 5000, "c close");
  assert.deepEqual(await server.report("c"), { type: "remote", code: 1000, reason: "done" });
}

// What every adapter must have counted; `control`: the adapter sees pings (Node, Bun).
function expected(control: boolean) {
  return {
    connections: {
      active: 0,
      opened: 3,
      closed: { normal: 1, remote: 1, shutdown: 0, timeout: 0, error: 1 },
    },
    received: {
      // "hello" 5 + "né ✓" 7 + "stop:4000:bye" 13 + "throw" 5
      text: { messages: 4, bytes: 30 },
      binary: { messages: 1, bytes: 3 },
      ping: { messages: control ? 1 : 0, bytes: control ? 1 : 0 },
      pong: { messages: 0, bytes: 0 },
    },
    sent: {
      // "hello" 5 + "né ✓" 7 (+ "control:ping:p" 14)
      text: { messages: control ? 3 : 2, bytes: control ? 26 : 12 },
      binary: { messages: 1, bytes: 3 },
      ping: { messages: 0, bytes: 0 },
      pong: { messages: 0, bytes: 0 },
    },
    closeCodesSent: { "1011": 1, "4000": 1 },
    closeCodesReceived: { "1000": 1 },
    upgradesRefused: { "426": 1 },
    errors: {
      init: 0,
      handleIn: 1,
      handleControl: 0,
      handleInfo: 0,
      terminate: 0,
      upgrade: 0,
      transport: 0,
    },
    mailboxDrops: { full: 0, closed: 0, unhandled: 0 },
    slowPeers: 0,
  };
}

async function check(server: FixtureServer, control: boolean): Promise<void> {
  await session(server);
  const base = `http://127.0.0.1:${server.port}`;
  const snapshot: MetricsSnapshot = await (await fetch(`${base}/metrics.json`)).json();
  const { connectionDuration, ...counts } = snapshot;
  assert.deepEqual(counts, expected(control));
  assert.equal(connectionDuration.count, 3);
  const text = await (await fetch(`${base}/metrics`)).text();
  const families = parsePrometheus(text);
  assert.equal(valueOf(families, "websock_connections_opened_total"), 3);
  assert.equal(valueOf(families, "websock_received_bytes_total", { kind: "text" }), 30);
  assert.equal(valueOf(families, "websock_upgrades_refused_total", { status: "426" }), 1);
  assert.equal(valueOf(families, "websock_close_codes_sent_total", { code: "4000" }), 1);
  assert.equal(valueOf(families, "websock_connection_duration_seconds_count"), 3);
}

function inProcessReports(): Reports {
  const reports = new Reports();
  setReporter((report) => reports.add(report));
  return reports;
}

function restoreReporter(): void {
  setReporter((report) => console.log(JSON.stringify(report)));
}

Deno.test("websockHandler() counts a scripted session exactly with Metrics (Deno)", async () => {
  const reports = inProcessReports();
  const metrics = new Metrics();
  const handler = websockHandler(handlers.echo, {
    telemetry: metrics,
    onError: reportError,
    fallback: (request) =>
      metricsResponse(new URL(request.url).pathname, metrics) ??
        new Response("Not found\n", { status: 404 }),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await check({
      port: server.addr.port,
      report: (id) => reports.get(id),
      errors: (id) => reports.errors(id),
      close: () => Promise.resolve(),
    }, false);
  } finally {
    restoreReporter();
    await server.shutdown();
  }
});

Deno.test("websockUpgrade() counts a scripted session exactly with Metrics (Deno's node:http)", async () => {
  const reports = inProcessReports();
  const metrics = new Metrics();
  const upgrade = websockUpgrade(handlers.echo, { telemetry: metrics, onError: reportError });
  const server = fixtureServer(upgrade, metrics);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await check({
      port: (server.address() as { port: number }).port,
      report: (id) => reports.get(id),
      errors: (id) => reports.errors(id),
      close: () => Promise.resolve(),
    }, true);
  } finally {
    restoreReporter();
    await within(upgrade.shutdown(), 5000, "shutdown");
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

// A fixture server in another runtime, serving Echo with `Metrics`.
async function checkChild(command: string, script: string): Promise<void> {
  const options = JSON.stringify({ metrics: true });
  const server = await startChild(command, [script, "--handler", "echo", "--options", options]);
  try {
    await check(server, true);
  } finally {
    await server.close();
  }
}

const node = await findNode();
Deno.test({
  name: "websockUpgrade() counts a scripted session exactly with Metrics (real Node)",
  ignore: node === undefined,
  async fn() {
    await checkChild(node!, await bundleNodeServer());
  },
});

const bun = await findBun();
Deno.test({
  name: "websockServe() counts a scripted session exactly with Metrics (real Bun)",
  ignore: bun === undefined,
  async fn() {
    await checkChild(bun!, `${root}tests/fixtures/bun_server.ts`);
  },
});
