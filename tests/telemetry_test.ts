// Telemetry: the events the engine and the upgrade checks tell (on the real engine through
// TestConnection, and over real sockets with the Deno adapter), the Metrics collector, and its
// Prometheus text checked against the format's grammar.

import assert from "node:assert/strict";
import { ok, ping, push, stop, type WebSock } from "../mod.ts";
import { resolveAdapterOptions, resolveEngineOptions, type Telemetry } from "../engine/mod.ts";
import type {
  ConnectionStartEvent,
  ConnectionStopEvent,
  MailboxDropEvent,
  SlowPeerEvent,
  UpgradeRefusedEvent,
} from "../engine/mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { Metrics, PROMETHEUS_CONTENT_TYPE } from "../telemetry/mod.ts";
import { utf8Length as utf8Bytes } from "../engine/utf8_length.ts";
import { connect, Raw, serve, upgradeRequest } from "./_helpers.ts";
import { parsePrometheus, valueOf } from "./_prometheus_format.ts";

/** A telemetry that records every event in order, by hook name. */
function recorder(): Telemetry & { events: [string, unknown][] } {
  const events: [string, unknown][] = [];
  const hook = (name: string) => (event: unknown) => void events.push([name, event]);
  return {
    events,
    onConnectionStart: hook("start"),
    onConnectionStop: hook("stop"),
    onUpgradeRefused: hook("refused"),
    onCallbackError: hook("error"),
    onMailboxDrop: hook("drop"),
    onSlowPeer: hook("slow"),
  };
}

const Echo = {
  init: () => ok(null),
  handleIn(data, state) {
    if (data === "throw") throw new Error("boom");
    if (data === "ping") return push(ping(new Uint8Array([1, 2])), state);
    if (data === "bye") return stop("normal", state, { code: 4000, reason: "bye" }, ["last"]);
    return push(data, state);
  },
  handleControl: (_frame, state) => ok(state),
  handleInfo: (message, state) => push(`info:${message}`, state),
} satisfies WebSock<null, string>;

Deno.test("telemetry tells a connection's start and stop with its traffic and close codes", async () => {
  const telemetry = recorder();
  const conn = await TestConnection.start(Echo, {
    telemetry,
    url: "ws://x/room",
    protocol: "chat",
  });
  const start = telemetry.events[0][1] as ConnectionStartEvent;
  assert.equal(telemetry.events[0][0], "start");
  assert.equal(start.url, "ws://x/room");
  assert.equal(start.protocol, "chat");
  assert.deepEqual(start.remoteAddr, { hostname: "127.0.0.1", port: 50000 });
  assert.equal(start.connection, conn.connection);
  await conn.receive("héllo ✓"); // 7 units, 10 UTF-8 bytes
  await conn.receive(new Uint8Array(5));
  await conn.ping(new Uint8Array(3));
  await conn.pong(new Uint8Array(4));
  await conn.receive("ping"); // pushes a 2-byte ping
  assert.equal(start.stats.received.text, 2, "the stats are live");
  await conn.connection.send("x"); // mailbox: pushes "info:x"
  await conn.settle();
  await conn.advance(1500);
  await conn.receive("bye"); // "last", then 4000
  assert.equal(telemetry.events.length, 2);
  const [name, event] = telemetry.events[1] as [string, ConnectionStopEvent];
  assert.equal(name, "stop");
  assert.equal(event.connection, conn.connection);
  assert.equal(event.duration, 1500);
  assert.equal(event.stats, start.stats);
  assert.deepEqual({ ...event.stats.received }, {
    text: 3,
    textBytes: 10 + 4 + 3,
    binary: 1,
    binaryBytes: 5,
    ping: 1,
    pingBytes: 3,
    pong: 1,
    pongBytes: 4,
  });
  assert.deepEqual({ ...event.stats.sent }, {
    text: 3, // "héllo ✓", "info:x", "last"
    textBytes: 10 + 6 + 4,
    binary: 1,
    binaryBytes: 5,
    ping: 1,
    pingBytes: 2,
    pong: 0,
    pongBytes: 0,
  });
  assert.deepEqual(event.closeSent, { code: 4000, reason: "bye" });
  assert.equal(event.closeReceived, null);
  assert.deepEqual(event.reason, { type: "normal", code: 4000, reason: "bye" });
});

Deno.test("telemetry keeps the peer's close code when the peer closes first", async () => {
  const telemetry = recorder();
  const conn = await TestConnection.start(Echo, { telemetry });
  await conn.close(4001, "ciao");
  const event = telemetry.events[1][1] as ConnectionStopEvent;
  assert.deepEqual(event.closeReceived, { code: 4001, reason: "ciao" });
  assert.equal(event.closeSent, null);
  assert.equal(event.reason.type, "remote");
});

Deno.test("telemetry tells callback errors with their source, and the 1011 that follows", async () => {
  const telemetry = recorder();
  const errors: unknown[] = [];
  const conn = await TestConnection.start(Echo, { telemetry, onError: (e) => errors.push(e) });
  await conn.receive("throw");
  assert.deepEqual(telemetry.events.map(([name]) => name), ["start", "error", "stop"]);
  const error = telemetry.events[1][1] as { source: string; error: Error; connection: unknown };
  assert.equal(error.source, "handleIn");
  assert.equal(error.error.message, "boom");
  assert.equal(error.connection, conn.connection);
  assert.equal(errors.length, 1, "onError is still told");
  assert.deepEqual((telemetry.events[2][1] as ConnectionStopEvent).closeSent, {
    code: 1011,
    reason: "Internal error",
  });
});

Deno.test("telemetry tells mailbox drops: full (then 1013) and closed", async () => {
  const telemetry = recorder();
  const Slow = {
    ...Echo,
    handleInfo: async (_m: string, state: null) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return ok(state);
    },
  } satisfies WebSock<null, string>;
  const conn = await TestConnection.start(Slow, { telemetry, maxQueuedEvents: 2 });
  const mailbox = conn.connection;
  assert.equal(mailbox.send("a"), true); // queued (delivered in a microtask)
  assert.equal(mailbox.send("b"), true); // queued: 2 wait
  assert.equal(mailbox.send("c"), false); // full: closes with 1013
  assert.equal(mailbox.send("d"), false); // closed
  await conn.settle();
  const drops = telemetry.events.filter(([name]) => name === "drop").map(([, e]) => e);
  assert.deepEqual(
    drops.map((e) => (e as MailboxDropEvent).reason),
    ["full", "closed"],
  );
  assert.equal((drops[0] as MailboxDropEvent).connection, mailbox);
  assert.equal(conn.closeFrame?.code, 1013);
});

Deno.test("telemetry tells mail dropped for a handler without handleInfo, which stays open", async () => {
  const telemetry = recorder();
  const NoMail = {
    init: () => ok(null),
    handleIn: (data: string | Uint8Array, state: null) => push(data, state),
  } satisfies WebSock<null, string>;
  const conn = await TestConnection.start(NoMail, { telemetry, onError() {} });
  assert.equal(conn.connection.send("x"), false);
  const drops = telemetry.events.filter(([name]) => name === "drop").map(([, e]) => e);
  assert.deepEqual(drops.map((e) => (e as MailboxDropEvent).reason), ["unhandled"]);
  assert.equal(conn.over, false);
  await conn.receive("still here");
  assert.deepEqual(conn.texts(), ["still here"]);
});

Deno.test("telemetry tells a slow peer exactly when the engine closes it with 1008", async () => {
  const telemetry = recorder();
  const conn = await TestConnection.start(Echo, { telemetry, maxBufferedBytes: 100 });
  const slowEvents = () => telemetry.events.filter(([name]) => name === "slow");
  await conn.receive(new Uint8Array(30));
  // 130 wait, 30 of them queued since the last look: 100 unread from before, at the limit.
  conn.setBufferedAmount(130);
  await conn.receive(new Uint8Array(30));
  assert.equal(slowEvents().length, 0, "over maxBufferedBytes in all, but not slow");
  assert.equal(conn.over, false);
  conn.setBufferedAmount(131);
  await conn.receive(new Uint8Array(30));
  const slow = slowEvents().map(([, e]) => e);
  assert.deepEqual(slow.map((e) => ({ ...(e as SlowPeerEvent), connection: undefined })), [
    { connection: undefined, buffered: 131, limit: 100 },
  ]);
  assert.equal(conn.closeFrame?.code, 1008);
});

Deno.test("onCallbackDuration times every callback, async ones until they settle", async () => {
  const times: [string, number][] = [];
  const Async = {
    ...Echo,
    handleInfo: async (_m: string, state: null) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return ok(state);
    },
    terminate() {},
  } satisfies WebSock<null, string>;
  const conn = await TestConnection.start(Async, {
    telemetry: { onCallbackDuration: (name, ms) => void times.push([name, ms]) },
  });
  await conn.receive("a");
  await conn.info("x");
  await conn.ping();
  await conn.close(1000);
  assert.deepEqual(times.map(([name]) => name), [
    "init",
    "handleIn",
    "handleInfo",
    "handleControl",
    "terminate",
  ]);
  assert.ok(times[2][1] >= 15, `handleInfo took ${times[2][1]} ms`);
});

Deno.test("a handler without handleControl keeps it absent when timed", async () => {
  const Plain = {
    init: () => ok(null),
    handleIn: (data, state) => push(data, state),
    handleInfo: (_m, state) => ok(state),
  } satisfies WebSock<null>;
  const names: string[] = [];
  const conn = await TestConnection.start(Plain, {
    telemetry: { onCallbackDuration: (name) => void names.push(name) },
  });
  await conn.ping();
  await conn.receive("a");
  await conn.close();
  assert.deepEqual(names, ["init", "handleIn", "terminate"]); // TestConnection adds terminate
  assert.deepEqual(conn.texts(), ["a"]);
});

Deno.test("a pushed ping still fails clearly on a transport without control frames", async () => {
  const conn = await TestConnection.start(Echo, {
    telemetry: {},
    controlFrames: false,
    onError() {},
  });
  await conn.receive("ping");
  assert.equal(conn.closeFrame?.code, 1011);
  assert.match(String(conn.errors[0]), /cannot send control frames/);
});

Deno.test("telemetry that throws changes nothing", async () => {
  const boom = () => {
    throw new Error("telemetry broke");
  };
  const conn = await TestConnection.start(Echo, {
    telemetry: {
      onConnectionStart: boom,
      onConnectionStop: boom,
      onCallbackError: boom,
      onMailboxDrop: boom,
      onCallbackDuration: boom,
    },
    onError() {},
  });
  await conn.receive("a");
  assert.deepEqual(conn.texts(), ["a"]);
  await conn.receive("throw");
  assert.equal(conn.closeFrame?.code, 1011);
  assert.equal(conn.connection.send("late"), false);
  assert.equal(conn.over, true);
});

Deno.test("resolveEngineOptions() rejects a telemetry that is not an object of functions", () => {
  assert.throws(
    () => resolveEngineOptions({ telemetry: 5 as never }),
    new TypeError("Invalid option telemetry: 5 is not an object"),
  );
  assert.throws(
    () => resolveEngineOptions({ telemetry: { onSlowPeer: "no" } as never }),
    new TypeError('Invalid option telemetry: onSlowPeer "no" is not a function'),
  );
});

Deno.test("vetUpgrade() and withUpgradeHook() tell refused upgrades with status and reason", async () => {
  const telemetry = recorder();
  let hookThrows = false;
  await using srv = serve(Echo, {
    telemetry,
    onError() {},
    upgrade(request) {
      if (hookThrows) throw new Error("hook broke");
      return new URL(request.url).searchParams.has("user")
        ? undefined
        : new Response("Who are you?", { status: 401 });
    },
  });
  const status = async (request: string) => {
    using raw = await Raw.connect(srv.port);
    await raw.write(request);
    return (await raw.response()).status;
  };
  assert.equal(await status(upgradeRequest({ "Sec-WebSocket-Version": "12" })), 426);
  assert.equal(await status(upgradeRequest({ Origin: "https://evil.example" })), 403);
  assert.equal(await status(upgradeRequest()), 401);
  hookThrows = true;
  assert.equal(await status(upgradeRequest()), 500);
  const refused = telemetry.events.filter(([name]) => name === "refused").map(([, e]) => e);
  assert.deepEqual(refused as UpgradeRefusedEvent[], [
    {
      status: 426,
      reason: "Unsupported Sec-WebSocket-Version 12; this server speaks version 13",
    },
    { status: 403, reason: "Origin https://evil.example is not allowed" },
    { status: 401, reason: "Refused by the upgrade hook" },
    { status: 500, reason: "Internal Server Error" },
  ]);
  const errors = telemetry.events.filter(([name]) => name === "error");
  assert.equal((errors[0][1] as { source: string }).source, "upgrade");
  assert.equal(telemetry.events.filter(([name]) => name === "start").length, 0);
});

Deno.test("a server without telemetry gives its engines no probe", () => {
  assert.equal(resolveEngineOptions({}).telemetry, undefined);
  assert.equal(resolveAdapterOptions({}).engine.telemetry, undefined);
});

Deno.test("utf8Bytes() counts UTF-8 bytes of short and long strings, surrogates included", () => {
  const encoder = new TextEncoder();
  for (
    const text of [
      "",
      "ascii",
      "é✓😀",
      "a\ud800b", // a lone surrogate encodes as 3 bytes
      "x".repeat(4095) + "😀" + "y".repeat(5000), // a pair across the 4096-unit chunk edge
      "é".repeat(9000),
    ]
  ) {
    assert.equal(utf8Bytes(text), encoder.encode(text).byteLength, text.slice(0, 20));
  }
});

Deno.test("Metrics counts a real session and serves valid Prometheus text", async () => {
  const metrics = new Metrics();
  await using srv = serve(Echo, {
    telemetry: metrics,
    onError() {},
    fallback: () => metrics.response(),
  });
  const a = await connect(srv.url);
  a.send("hello");
  assert.equal(await a.next(), "hello");
  const b = await connect(srv.url);
  assert.equal(metrics.snapshot().connections.active, 2);
  assert.equal(metrics.snapshot().received.text.bytes, 5, "open connections count");
  b.send("throw");
  await b.closed;
  await a.close(1000);
  while (metrics.snapshot().connections.active > 0) await new Promise((r) => setTimeout(r, 5));
  const response = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
  assert.equal(response.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  const families = parsePrometheus(await response.text());
  assert.equal(valueOf(families, "websock_connections_active"), 0);
  assert.equal(valueOf(families, "websock_connections_opened_total"), 2);
  assert.equal(valueOf(families, "websock_connections_closed_total", { reason: "remote" }), 1);
  assert.equal(valueOf(families, "websock_connections_closed_total", { reason: "error" }), 1);
  assert.equal(valueOf(families, "websock_messages_received_total", { kind: "text" }), 2);
  assert.equal(valueOf(families, "websock_received_bytes_total", { kind: "text" }), 10);
  assert.equal(valueOf(families, "websock_sent_bytes_total", { kind: "text" }), 5);
  assert.equal(valueOf(families, "websock_close_codes_sent_total", { code: "1011" }), 1);
  assert.equal(valueOf(families, "websock_close_codes_received_total", { code: "1000" }), 1);
  assert.equal(valueOf(families, "websock_errors_total", { source: "handleIn" }), 1);
  assert.equal(valueOf(families, "websock_connection_duration_seconds_count"), 2);
  assert.equal(families.get("websock_connection_duration_seconds")?.type, "histogram");
});

Deno.test("Metrics.prometheus() is the text format: escapes, histograms, every family typed", () => {
  const metrics = new Metrics({ prefix: "ws", callbackDurations: true, durationBuckets: [1, 2] });
  const connection = {} as ConnectionStartEvent["connection"];
  const stats = {
    received: {
      text: 1,
      textBytes: 3,
      binary: 0,
      binaryBytes: 0,
      ping: 0,
      pingBytes: 0,
      pong: 0,
      pongBytes: 0,
    },
    sent: {
      text: 0,
      textBytes: 0,
      binary: 2,
      binaryBytes: 8,
      ping: 0,
      pingBytes: 0,
      pong: 0,
      pongBytes: 0,
    },
  };
  metrics.onConnectionStart({ connection, url: "", protocol: "", remoteAddr: null, stats });
  metrics.onConnectionStop({
    connection,
    duration: 1500,
    stats,
    closeSent: null,
    closeReceived: { code: 1006, reason: "" },
    reason: { type: "remote", code: 1006, reason: "" },
  });
  metrics.onUpgradeRefused({ status: 403, reason: 'Origin "x"\nnot allowed' });
  metrics.onMailboxDrop({ connection, reason: "full" });
  metrics.onSlowPeer({ connection, buffered: 10, limit: 5 });
  metrics.onCallbackDuration!("handleIn", 0.2);
  metrics.onCallbackDuration!("handleIn", 3);
  const text = metrics.prometheus();
  const families = parsePrometheus(text);
  for (const [name, family] of families) {
    assert.notEqual(family.type, "untyped", `${name} has a TYPE`);
    assert.ok(family.help, `${name} has a HELP`);
    assert.ok(name.startsWith("ws_"), name);
    if (family.type === "counter") assert.ok(name.endsWith("_total"), name);
  }
  assert.equal(valueOf(families, "ws_connection_duration_seconds_bucket", { le: "1" }), 0);
  assert.equal(valueOf(families, "ws_connection_duration_seconds_bucket", { le: "2" }), 1);
  assert.equal(valueOf(families, "ws_connection_duration_seconds_sum"), 1.5);
  assert.equal(
    valueOf(families, "ws_callback_duration_seconds_bucket", {
      callback: "handleIn",
      le: "0.00025",
    }),
    1,
  );
  assert.equal(
    valueOf(families, "ws_callback_duration_seconds_count", { callback: "handleIn" }),
    2,
  );
  assert.equal(valueOf(families, "ws_close_codes_received_total", { code: "1006" }), 1);
  assert.equal(valueOf(families, "ws_mailbox_dropped_total", { reason: "full" }), 1);
  assert.equal(valueOf(families, "ws_slow_peers_total"), 1);
  assert.equal(valueOf(families, "ws_sent_bytes_total", { kind: "binary" }), 8);
  const snapshot = metrics.snapshot();
  assert.equal(snapshot.callbackDuration?.handleIn.count, 2);
  assert.deepEqual(snapshot.connectionDuration, {
    bounds: [1, 2],
    counts: [0, 1, 1],
    sum: 1.5,
    count: 1,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, "the snapshot is plain JSON");
});

Deno.test("the Prometheus checker rejects what breaks the grammar", () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n';
  parsePrometheus(ok);
  const bad = [
    "a_total 1", // no final newline
    "1a 1\n", // bad metric name
    'a{x="1} 1\n', // unterminated label value
    'a{x="\\t"} 1\n', // bad escape
    "a one\n", // bad value
    "a  1\n", // two spaces
    "# TYPE a counter\n# TYPE a gauge\n", // second TYPE
    "a 1\n# TYPE a counter\n", // TYPE after samples
    'a 1\nb 1\na{x="y"} 2\n', // a family's lines apart
    "a 1\na 2\n", // duplicate series
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', // +Inf is not _count
    "# TYPE c counter\nc -1\n", // negative counter
    'a{__x="1"} 1\n', // reserved label
  ];
  for (const text of bad) assert.throws(() => parsePrometheus(text), Error, JSON.stringify(text));
});

Deno.test("Metrics() rejects a bad prefix or buckets", () => {
  assert.throws(
    () => new Metrics({ prefix: "9x" }),
    new TypeError('Invalid option prefix: "9x" is not a metric name'),
  );
  assert.throws(
    () => new Metrics({ durationBuckets: [2, 1] }),
    new TypeError(
      "Invalid option durationBuckets: [2,1] is not a list of increasing positive numbers",
    ),
  );
});
