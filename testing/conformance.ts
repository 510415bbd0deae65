/**
 * The conformance suite every adapter must pass: one `Deno.test` whose steps check, over the
 * wire, every row of the result table, the terminate reasons, close codes, ordering under
 * async callbacks, the mailbox, limits, keep-alive, shutdown and bad upgrades. The client is
 * `npm:ws` (not written in this project), plus raw TCP for malformed handshakes and
 * hand-built frames.
 *
 * An adapter author implements {@linkcode ConformanceAdapter}: start a server (in this
 * process or another runtime's) that serves `ConformanceHandler` from
 * `@websock/websock/conformance-handler` with the given options on 127.0.0.1, port 0, and
 * calls {@linkcode conformance} with it at the top level of a test file (see its example).
 * {@linkcode CONFORMANCE_CHECKS} names every check, for a report or for `only`.
 *
 * @example What the suite checks
 * ```ts
 * import assert from "node:assert/strict";
 * import { CONFORMANCE_CHECKS } from "@websock/websock/conformance";
 *
 * assert.ok(CONFORMANCE_CHECKS.includes("async callbacks never overlap and messages keep their order"));
 * assert.ok(CONFORMANCE_CHECKS.some((name) => name.startsWith("maxMessageBytes")));
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { check, Client, fail, same } from "./_client.ts";
import { KEEPALIVE_CHECKS } from "./_keepalive_checks.ts";
import {
  CLOSE_GRACE_CHECKS,
  COMPRESSION_CHECKS,
  CONNECTION_LOST_CHECKS,
  FLOOD_CLOSE_CHECKS,
  FRAGMENT_CHECKS,
  NO_COMPRESSION_CHECKS,
  PROTOCOL_ERROR_CHECKS,
  SLOW_PEER_CHECKS,
} from "./_wire_checks.ts";
import { closePayload, encodeFrame, Raw, upgradeRequest } from "./_raw.ts";
import type { ConformanceReport } from "./conformance_handler.ts";

export type { TerminateReason } from "../websock.ts";

export type { ConformanceReport } from "./conformance_handler.ts";

/**
 * Options the suite asks a server to use; pass them to the adapter unchanged (an adapter
 * without `compression` that refuses `perMessageDeflate`, as the Deno one does, leaves it out).
 */
export interface ConformanceServerOptions {
  /** Liveness timeout in milliseconds (the peer is pinged; no sign of life closes). */
  readonly timeout?: number;
  /** Application-data timeout in milliseconds (pongs do not count). */
  readonly dataTimeout?: number;
  /** Largest message accepted. */
  readonly maxMessageBytes?: number;
  /** Largest event queue. */
  readonly maxQueuedEvents?: number;
  /** Largest send buffer toward a peer that does not read. */
  readonly maxBufferedBytes?: number;
  /** Subprotocols, preferred first. */
  readonly protocols?: readonly string[];
  /**
   * Negotiate permessage-deflate and compress what the server sends. Adapters that declare
   * `compression` honour it; others decline the extension.
   */
  readonly perMessageDeflate?: boolean;
}

/** A server the adapter started. */
export interface ConformanceServer {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Drain its connections (the adapter's graceful shutdown: 1001 to every client). */
  shutdown(): Promise<void>;
  /** Stop it and release everything it holds. */
  stop(): Promise<void>;
}

/** What an adapter author implements to run the suite. */
export interface ConformanceAdapter {
  /** The adapter's name, shown in the test name. */
  readonly name: string;
  /** Whether the server can show control frames to `handleControl` and send pings/pongs. */
  readonly controlFrames: boolean;
  /**
   * Checks the adapter is known to fail because of its runtime, by a part of the check's name,
   * with the reason. They still run: a known failure passes (and is reported), and a known
   * failure that starts passing fails, so the list cannot go stale.
   */
  readonly knownFailures?: Readonly<Record<string, string>>;
  /**
   * Whether the server honours `perMessageDeflate: true` (negotiates permessage-deflate and
   * compresses what it sends). Without it the suite checks that the extension is declined.
   * @default {false}
   */
  readonly compression?: boolean;
  /**
   * Start a server that serves `ConformanceHandler` with these options (and an error hook
   * that stays quiet, if you like).
   */
  start(options: ConformanceServerOptions): Promise<ConformanceServer>;
}

/** Options of {@linkcode conformance}. */
export interface ConformanceOptions {
  /**
   * Run only the checks whose names include one of these strings.
   * @default {All checks}
   */
  readonly only?: readonly string[];
  /**
   * Milliseconds a single wait may take before the check fails.
   * @default {5000}
   */
  readonly waitMs?: number;
}

interface Context {
  readonly server: ConformanceServer;
  readonly url: string;
  readonly waitMs: number;
  connect(path?: string, protocols?: string[]): Promise<Client>;
  id(client: Client): Promise<number>;
  reports(id: number, count?: number): Promise<ConformanceReport[]>;
}

type Check = {
  name: string;
  options?: ConformanceServerOptions;
  run: (ctx: Context) => Promise<void>;
};

function stopCheck(
  command: string,
  code: number,
  type: string,
  closeReason?: string,
): Check {
  return {
    name: `${command} closes with ${code} and terminate sees ${type}`,
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      client.socket.send(command);
      const closed = await client.closed;
      same(closed.code, code, "close code");
      if (closeReason !== undefined) same(closed.reason, closeReason, "close reason");
      const [report] = await ctx.reports(id);
      same(report.reason.type, type, "terminate reason");
    },
  };
}

const CHECKS: Check[] = [
  {
    name: "echoes text as text and binary as binary",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.send("hello");
      client.socket.send(new Uint8Array([1, 2, 3]));
      same(await client.take(2, ctx.waitMs), ["hello", new Uint8Array([1, 2, 3])], "echo");
      await client.close();
    },
  },
  {
    name: "push sends a list of messages in order",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.send("list");
      same(await client.take(3, ctx.waitMs), ["one", "two", new Uint8Array([3])], "messages");
      await client.close();
    },
  },
  stopCheck("stop:normal", 1000, "normal"),
  stopCheck("stop:shutdown", 1001, "shutdown"),
  stopCheck("stop:restart", 1012, "shutdown"),
  stopCheck("stop:other", 1011, "error"),
  stopCheck("close:4000:see you", 4000, "normal", "see you"),
  {
    name: "stop with messages sends them before the close frame",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.send("close-after:4001");
      const closed = await client.closed;
      same(client.received, ["last-1", "last-2"], "messages before close");
      same(closed.code, 4001, "close code");
    },
  },
  {
    name: "a callback that throws closes with 1011 and leaks nothing",
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      client.socket.send("throw");
      const closed = await client.closed;
      same(closed.code, 1011, "close code");
      check(!closed.reason.includes("secret"), `close reason leaks the error: ${closed.reason}`);
      const [report] = await ctx.reports(id);
      check(report.reason.error?.includes("conformance-secret-detail"), "terminate sees the error");
    },
  },
  stopCheck("garbage", 1011, "error"),
  stopCheck("close:1005:", 1011, "error"),
  {
    name: "the peer's close code and reason reach terminate as remote",
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      client.socket.close(4321, "gone fishing");
      await client.closed;
      const [report] = await ctx.reports(id);
      same(report.reason, { type: "remote", code: 4321, reason: "gone fishing" }, "terminate");
    },
  },
  {
    name: "terminate runs exactly once, after the messages the peer sent before closing",
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      client.socket.send("a");
      client.socket.send("b");
      client.socket.close(4000);
      await client.closed;
      const reports = await ctx.reports(id, 1);
      await new Promise((r) => setTimeout(r, 50));
      same((await ctx.reports(id, 1)).length, 1, "terminate calls");
      same(reports[0].handled, 3, "messages handled before terminate (id, a, b)");
    },
  },
  {
    name: "async callbacks never overlap and messages keep their order",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.send("async:40:a");
      client.socket.send("async:1:b");
      client.socket.send("plain");
      client.socket.send("async:1:c");
      same(await client.take(4, ctx.waitMs), ["async:a", "async:b", "plain", "async:c"], "order");
      await client.close();
    },
  },
  {
    name: "the mailbox delivers to handleInfo, from the connection itself and from another",
    async run(ctx) {
      const a = await ctx.connect();
      const b = await ctx.connect();
      const idB = await ctx.id(b);
      a.socket.send("self:note");
      same(await a.take(1, ctx.waitMs), ["info:note"], "self");
      a.socket.send(`to:${idB}:hi`);
      same(await a.take(1, ctx.waitMs), ["sent:true"], "send() result");
      const [got] = await b.take(1, ctx.waitMs);
      check(
        typeof got === "string" && got.startsWith("info:from ") && got.endsWith(": hi"),
        `got ${got}`,
      );
      await b.close();
      await ctx.reports(idB); // the server has seen b's end
      a.socket.send(`to:${idB}:late`);
      same(await a.take(1, ctx.waitMs), ["sent:false"], "send() to a closed connection");
      await a.close();
    },
  },
  {
    name: "maxMessageBytes: a bigger message closes with 1009 and terminate sees an error",
    options: { maxMessageBytes: 64 },
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      client.socket.send("x".repeat(64));
      same(await client.take(1, ctx.waitMs), ["x".repeat(64)], "a message at the limit");
      client.socket.send("x".repeat(65));
      same((await client.closed).code, 1009, "close code");
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
    },
  },
  {
    name: "maxQueuedEvents: a flood past a slow handler closes the connection with an error",
    options: { maxQueuedEvents: 4 },
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      for (let i = 0; i < 12; i++) client.socket.send(`async:30:${i}`);
      await client.closed;
      const [report] = await ctx.reports(id);
      same(report.reason.type, "error", "terminate reason");
    },
  },
  {
    name: "dataTimeout: a client that answers pings but sends no data closes with 1001 " +
      "and terminate sees timeout",
    options: { dataTimeout: 150 },
    async run(ctx) {
      const client = await ctx.connect();
      const id = await ctx.id(client);
      const closed = await client.closed;
      same(closed.code, 1001, "close code");
      const [report] = await ctx.reports(id);
      same(report.reason.type, "timeout", "terminate reason");
    },
  },
  {
    name: "shutdown: every client sees 1001 and terminate sees shutdown once each",
    options: {},
    async run(ctx) {
      const clients = [await ctx.connect(), await ctx.connect(), await ctx.connect()];
      const ids = [];
      for (const c of clients) ids.push(await ctx.id(c));
      await ctx.server.shutdown();
      for (const c of clients) same((await c.closed).code, 1001, "close code");
      for (const id of ids) {
        const reports = await ctx.reports(id);
        same(reports.map((r) => r.reason.type), ["shutdown"], `terminate of ${id}`);
      }
    },
  },
  {
    name: "subprotocols: the server's preference wins among what the client offers",
    options: { protocols: ["conformance.v2", "conformance.v1"] },
    async run(ctx) {
      const client = await ctx.connect("/", ["conformance.v1", "conformance.v2"]);
      same(client.socket.protocol, "conformance.v2", "protocol");
      await client.close();
    },
  },
  ...([
    ["version 8 is refused with 426", { "Sec-WebSocket-Version": "8" }, 426],
    ["a 15-byte key is refused with 400", { "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA" }, 400],
    ["no Connection: upgrade is refused with 400", { Connection: "keep-alive" }, 400],
    ["a plain GET is refused with 426", { Upgrade: null, Connection: null }, 426],
    ["a cross-site Origin is refused with 403", { Origin: "https://evil.example" }, 403],
  ] as const).map(([name, headers, status]): Check => ({
    name: `bad upgrade: ${name}`,
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await raw.write(upgradeRequest(headers));
      same((await raw.response()).status, status, "status");
    },
  })),
  {
    name: "bad upgrade: an HTTP/1.0 upgrade is refused with 400 (RFC 6455 asks for HTTP/1.1)",
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await raw.write(upgradeRequest({}, "GET / HTTP/1.0"));
      same((await raw.response()).status, 400, "status");
    },
  },
  {
    name: "a fragmented message reaches handleIn whole",
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await raw.write(upgradeRequest());
      await raw.response();
      await raw.frame(1, "hel", false);
      await raw.frame(0, "lo", true);
      const frame = await raw.readFrame();
      same(new TextDecoder().decode(frame?.payload), "hello", "echo of the whole message");
      await raw.frame(8, closePayload(1000));
      await raw.readClose();
    },
  },
  ...([
    ["an unmasked frame", encodeFrame(1, "hi", { mask: false }), [1002]],
    ["invalid UTF-8 in a text frame", encodeFrame(1, new Uint8Array([0xc3, 0x28])), [1007, 1002]],
    ["a close frame with a 124-byte reason", encodeFrame(8, closePayload(1000, "r".repeat(124))), [
      1002,
    ]],
    ["an unknown opcode", encodeFrame(3, "?"), [1002]],
  ] as const).map(([name, bytes, codes]): Check => ({
    name: `${name} fails the connection (close ${codes.join("/")} or a dropped connection)`,
    async run(ctx) {
      using raw = await Raw.connect(ctx.server.port);
      await raw.write(upgradeRequest());
      await raw.response();
      await raw.write(bytes);
      const frame = await raw.readFrame(ctx.waitMs);
      check(frame === null || frame.opcode === 8, "the server accepted the frame and answered it");
      const code = frame && frame.payload.length >= 2
        ? (frame.payload[0] << 8) | frame.payload[1]
        : 0;
      check(
        frame === null || (codes as readonly number[]).includes(code),
        `the server closed with ${code} (a ${frame?.payload.length}-byte close payload)`,
      );
    },
  })),
];

const CONTROL_CHECKS: Check[] = [
  {
    name: "a ping is answered with a pong, then reaches handleControl",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.ping(Buffer.from([7, 8]));
      await client.until(() => client.pongs.length > 0, ctx.waitMs, "the pong");
      same(client.pongs[0], new Uint8Array([7, 8]), "pong payload");
      same(await client.take(1, ctx.waitMs), ["control:ping:7,8"], "handleControl");
      await client.close();
    },
  },
  {
    name: "push(ping()) and push(pong()) reach the peer",
    async run(ctx) {
      const client = await ctx.connect();
      client.socket.send("ping");
      client.socket.send("pong");
      await client.until(
        () => client.pings.length > 0 && client.pongs.length > 0,
        ctx.waitMs,
        "control frames",
      );
      same(client.pings[0], new Uint8Array([1, 2, 3]), "ping payload");
      same(client.pongs[0], new Uint8Array([4]), "pong payload");
      await client.close();
    },
  },
];

const NO_CONTROL_CHECKS: Check[] = [
  stopCheck("ping", 1011, "error"),
];

async function makeContext(
  adapter: ConformanceAdapter,
  options: ConformanceServerOptions,
  waitMs: number,
  run: (ctx: Context) => Promise<void>,
): Promise<void> {
  const server = await adapter.start(options);
  const clients: Client[] = [];
  const url = `ws://127.0.0.1:${server.port}`;
  const ctx: Context = {
    server,
    url,
    waitMs,
    async connect(path = "/", protocols) {
      const client = new Client(url + path, protocols);
      clients.push(client);
      await client.opened;
      return client;
    },
    async id(client) {
      client.socket.send("id");
      const [answer] = await client.take(1, waitMs);
      check(typeof answer === "string" && answer.startsWith("id:"), `id answer ${answer}`);
      return Number(answer.slice(3));
    },
    async reports(id, count = 1) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const reporter = new Client(`${url}/reports`);
        clients.push(reporter);
        await reporter.opened;
        const [json] = await reporter.take(1, waitMs);
        await reporter.close();
        const found = (JSON.parse(json as string) as ConformanceReport[]).filter((r) =>
          r.id === id
        );
        if (found.length >= count) return found;
        if (Date.now() > deadline) fail(`Timed out waiting for terminate of connection ${id}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
  try {
    await run(ctx);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
}

/**
 * Register the conformance suite for an adapter: one `Deno.test` named
 * `conformance: <adapter name>` with a step per check.
 *
 * @param adapter How to start a server of the adapter under test.
 * @param options Which checks to run and how long a wait may take.
 *
 * @example Run the suite against the Deno adapter
 * ```ts
 * import { type ConformanceAdapter } from "@websock/websock/conformance";
 * import { ConformanceHandler } from "@websock/websock/conformance-handler";
 * import { websockHandler } from "@websock/websock/deno";
 * export const denoAdapter: ConformanceAdapter = {
 *   name: "deno",
 *   controlFrames: false, // Deno shows no pings or pongs to JavaScript
 *   knownFailures: { "unmasked frame": "Deno 2.9", "124-byte reason": "Deno 2.9" },
 *   start(options) {
 *     const handler = websockHandler(ConformanceHandler, { ...options, onError() {} });
 *     const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
 *     return Promise.resolve({
 *       port: server.addr.port,
 *       shutdown: () => handler.shutdown(),
 *       stop: () => server.shutdown(),
 *     });
 *   },
 * };
 * // Then, at the top level of a test file (not inside a test): conformance(denoAdapter);
 * ```
 */
export function conformance(adapter: ConformanceAdapter, options: ConformanceOptions = {}): void {
  const waitMs = options.waitMs ?? 5000;
  const checks = [
    ...CHECKS,
    ...KEEPALIVE_CHECKS,
    ...(adapter.controlFrames ? CONTROL_CHECKS : NO_CONTROL_CHECKS),
    ...PROTOCOL_ERROR_CHECKS,
    ...CONNECTION_LOST_CHECKS,
    ...CLOSE_GRACE_CHECKS,
    ...SLOW_PEER_CHECKS,
    ...FLOOD_CLOSE_CHECKS,
    ...FRAGMENT_CHECKS,
    ...(adapter.compression ? COMPRESSION_CHECKS : NO_COMPRESSION_CHECKS),
  ].filter((c) => !options.only || options.only.some((o) => c.name.includes(o)));
  const known = Object.entries(adapter.knownFailures ?? {});
  Deno.test(`conformance: ${adapter.name}`, async (t) => {
    for (const c of checks) {
      const why = known.find(([part]) => c.name.includes(part))?.[1];
      const run = () => makeContext(adapter, c.options ?? {}, waitMs, c.run);
      if (why === undefined) {
        await t.step(c.name, run);
        continue;
      }
      await t.step(`${c.name} [known failure: ${why}]`, async () => {
        try {
          await run();
        } catch {
          return;
        }
        fail(`"${c.name}" is listed as a known failure of ${adapter.name} but passes`);
      });
    }
  });
}

/** The names of the checks, for documentation and reports. */
export const CONFORMANCE_CHECKS: readonly string[] = [
  ...CHECKS,
  ...KEEPALIVE_CHECKS,
  ...CONTROL_CHECKS,
  ...NO_CONTROL_CHECKS,
  ...PROTOCOL_ERROR_CHECKS,
  ...CONNECTION_LOST_CHECKS,
  ...CLOSE_GRACE_CHECKS,
  ...SLOW_PEER_CHECKS,
  ...FLOOD_CLOSE_CHECKS,
  ...FRAGMENT_CHECKS,
  ...COMPRESSION_CHECKS,
  ...NO_COMPRESSION_CHECKS,
].map((c) => c.name);
