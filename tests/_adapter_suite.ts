// One suite, run against the Node and Bun adapters: fixture servers (tests/fixtures/) in a
// child process (real Node, real Bun) or in-process (Deno's Node compatibility), checked
// over real sockets. Servers listen on 127.0.0.1, port 0, and print `{"port":N}` first; each
// `terminate` prints a JSON line that `report(id)` waits for.

import assert from "node:assert/strict";
// @ts-types="npm:@types/ws@^8"
import { WebSocket as WsClient } from "npm:ws@^8";
import { Raw, upgradeRequest } from "../testing/_raw.ts";
import { connect, within } from "./_helpers.ts";
import type { Report } from "./fixtures/handlers.ts";

// The timeout the adapter tests take from here, as they always have.
export { within };

/** A running fixture server. */
export interface FixtureServer {
  readonly port: number;
  /** Resolves with the terminate reason of the connection `?id=id`. */
  report(id: string): Promise<Record<string, unknown>>;
  /**
   * Takes the errors reported so far for the connection `?id=id` (`""`: without one) as
   * `{ source, name, message }`; the errors of a connection are all in once its report is.
   */
  errors(id: string): Record<string, unknown>[];
  close(): Promise<void>;
}

/** Starts a fixture server with a handler name and options (JSON). */
export type Start = (
  handler: string,
  options: Record<string, unknown>,
  upgrade?: string,
) => Promise<FixtureServer>;

/** Collects reports (terminates and errors) and hands them out by connection id. */
export class Reports {
  readonly #seen = new Map<string, Record<string, unknown>>();
  readonly #waiting = new Map<string, (reason: Record<string, unknown>) => void>();
  #errors: Record<string, unknown>[] = [];

  add(report: Report): void {
    if ("error" in report) {
      const { error: source, id, name, message } = report;
      this.#errors.push({ id, source, name, message });
      return;
    }
    const waiting = this.#waiting.get(report.terminate);
    if (waiting) {
      this.#waiting.delete(report.terminate);
      waiting(report.reason);
    } else this.#seen.set(report.terminate, report.reason);
  }

  errors(id: string): Record<string, unknown>[] {
    const taken = this.#errors.filter((e) => e.id === id).map(({ id: _, ...e }) => e);
    this.#errors = this.#errors.filter((e) => e.id !== id);
    return taken;
  }

  get(id: string): Promise<Record<string, unknown>> {
    const seen = this.#seen.get(id);
    if (seen) {
      this.#seen.delete(id); // a report is handed out once: a later connection may reuse the id
      return Promise.resolve(seen);
    }
    return within(new Promise((resolve) => this.#waiting.set(id, resolve)), 5000, `report ${id}`);
  }
}

/** Start a child process that prints `{"port":N}` and then report lines. */
export async function startChild(command: string, args: string[]): Promise<FixtureServer> {
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reports = new Reports();
  let resolvePort: (port: number) => void = () => {};
  const port = new Promise<number>((resolve) => resolvePort = resolve);
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let i: number;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        if (!line.startsWith("{")) continue;
        const message = JSON.parse(line);
        if (typeof message.port === "number") resolvePort(message.port);
        else if (message.terminate !== undefined || message.error !== undefined) {
          reports.add(message);
        }
      }
    }
  })();
  const close = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await reading;
  };
  try {
    return {
      port: await within(port, 20_000, `${command} to print its port`),
      report: (id) => reports.get(id),
      errors: (id) => reports.errors(id),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function closedOf(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return await within(
    new Promise((resolve) => {
      socket.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }), {
        once: true,
      });
    }),
    5000,
    "close",
  );
}

async function rawStatus(port: number, request: string): Promise<[number, Headers, string]> {
  using raw = await Raw.connect(port);
  await raw.write(request);
  const { status, headers, body } = await within(raw.response(), 5000, "response");
  return [status, headers, body];
}

// An npm:ws client (it can send pings) that queues what it receives.
class WsQueue {
  readonly client: WsClient;
  readonly #items: string[] = [];
  #waiting: ((item: string) => void) | undefined;

  constructor(client: WsClient) {
    this.client = client;
    const put = (item: string) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(item);
      else this.#items.push(item);
    };
    client.on("message", (data) => put(String(data)));
    client.on("ping", (data) => put(`ping ${data}`));
    client.on("pong", (data) => put(`pong ${data}`));
  }

  next(): Promise<string> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    return within(new Promise((resolve) => this.#waiting = resolve), 5000, "ws message");
  }

  async close(): Promise<void> {
    if (this.client.readyState === WsClient.CLOSED) return;
    const closed = new Promise((resolve) => this.client.once("close", resolve));
    this.client.close();
    await within(closed, 5000, "ws close");
  }
}

function wsClient(url: string, options: Record<string, unknown> = {}): Promise<WsQueue> {
  const client = new WsClient(url, { perMessageDeflate: false, ...options });
  const queue = new WsQueue(client);
  return within(
    new Promise((resolve, reject) => {
      client.once("open", () => resolve(queue));
      client.once("error", reject);
    }),
    5000,
    "ws open",
  );
}

/** Run the suite against the servers `start` makes. */
export async function adapterSuite(t: Deno.TestContext, start: Start): Promise<void> {
  const main = await start("echo", {
    protocols: ["chat"],
    maxMessageBytes: 64,
    maxBufferedBytes: 65536,
  });
  const url = (id: string) => `ws://127.0.0.1:${main.port}/?id=${id}`;
  try {
    await t.step("echoes text and binary", async () => {
      await using client = await connect(url("echo"));
      client.socket.send("hello");
      assert.equal(await client.next(), "hello");
      client.socket.send(new Uint8Array([1, 2, 3]));
      assert.deepEqual(await client.next(), new Uint8Array([1, 2, 3]));
    });

    await t.step(
      "pushes lists in order, serves the mailbox and awaits async callbacks",
      async () => {
        await using client = await connect(url("order"));
        client.socket.send("many");
        client.socket.send("info:x");
        client.socket.send("async:1");
        client.socket.send("after");
        assert.deepEqual(await client.take(6), [
          "one",
          "two",
          "three",
          "info:x",
          "later:1",
          "after",
        ]);
      },
    );

    await t.step("closes with the code of each stop and tells terminate", async () => {
      const cases: [string, number, string, Record<string, unknown>][] = [
        ["stop:normal", 1000, "", { type: "normal", code: 1000, reason: "" }],
        ["stop:4000:bye", 4000, "bye", { type: "normal", code: 4000, reason: "bye" }],
        ["stop:boom", 1011, "", { type: "error", message: "boom" }],
        ["throw", 1011, "Internal error", { type: "error", name: "Error", message: "boom" }],
        ["stop:restart", 1012, "", { type: "shutdown", code: 1012 }],
      ];
      for (const [command, code, reason, terminate] of cases) {
        const id = `stop-${command}`;
        const client = await connect(url(id));
        client.socket.send(command);
        assert.deepEqual(await closedOf(client.socket), { code, reason });
        assert.deepEqual(await main.report(id), terminate);
        const errors = command === "throw"
          ? [{ source: "handleIn", name: "Error", message: "boom" }]
          : [];
        assert.deepEqual(main.errors(id), errors, "what the error hook was told");
      }
      const client = await connect(url("stop-with"));
      client.socket.send("stop-with:last");
      assert.deepEqual(await client.take(2), ["last", "bye"]);
      assert.equal((await closedOf(client.socket)).code, 1000);
    });

    await t.step("tells terminate the peer's close code and reason", async () => {
      const client = await connect(url("remote"));
      const closed = closedOf(client.socket);
      client.socket.close(4001, "ciao");
      await closed;
      assert.deepEqual(await main.report("remote"), { type: "remote", code: 4001, reason: "ciao" });
    });

    await t.step(
      "handleControl sees pings and pongs, and pushed pings and pongs go out",
      async () => {
        const ws = await wsClient(url("control"));
        try {
          ws.client.ping("hi");
          // The server answers the ping before handleControl runs.
          assert.equal(await ws.next(), "pong hi");
          assert.equal(await ws.next(), "control:ping:hi");
          ws.client.send("ping:yo");
          assert.equal(await ws.next(), "ping yo");
          // ws answers the server's ping, and the handler sees that pong.
          assert.equal(await ws.next(), "control:pong:yo");
          ws.client.send("pong:unsolicited");
          assert.equal(await ws.next(), "pong unsolicited");
        } finally {
          await ws.close();
        }
      },
    );

    await t.step("maxMessageBytes closes with 1009 and terminate sees an error", async () => {
      const client = await connect(url("big"));
      client.socket.send("x".repeat(64));
      assert.equal(await client.next(), "x".repeat(64));
      client.socket.send("x".repeat(65));
      assert.equal((await closedOf(client.socket)).code, 1009);
      assert.equal((await main.report("big")).type, "error");
    });

    await t.step(
      "maxBufferedBytes closes with 1008 when the backpressure signal says so",
      async () => {
        // The client stops reading, so what the server sends piles up in its buffer.
        const ws = await wsClient(url("flood"));
        ws.client.pause();
        ws.client.send("flood:128");
        const reason = await main.report("flood");
        ws.client.terminate();
        assert.equal(reason.type, "error");
        assert.match(String(reason.message), /maxBufferedBytes/);
      },
    );

    await t.step(
      "a message queued behind one far over maxBufferedBytes reaches a peer that reads late",
      async () => {
        // 8 MiB, 128 × maxBufferedBytes: most of it still waits in the server when "after big"
        // is queued. Neither is dropped (Bun drops sends over its own backpressureLimit) and the
        // peer, which reads, is not closed.
        using raw = await Raw.connect(main.port);
        await raw.write(
          upgradeRequest({ Host: `127.0.0.1:${main.port}` }, "GET /?id=late-reader HTTP/1.1"),
        );
        assert.equal((await within(raw.response(), 5000, "101")).status, 101);
        await raw.frame(1, "big:8388608");
        await new Promise((resolve) => setTimeout(resolve, 100));
        const big = await within(raw.readFrame(), 5000, "the big message");
        assert.equal(big?.payload.byteLength, 8388608);
        const after = await within(raw.readFrame(), 5000, "the message after it");
        assert.equal(new TextDecoder().decode(after?.payload), "after big");
        await raw.frame(8, new Uint8Array([0x03, 0xe8]));
        assert.deepEqual(await within(raw.readClose(), 5000, "close"), { code: 1000, reason: "" });
        raw.close();
        assert.deepEqual(await main.report("late-reader"), {
          type: "remote",
          code: 1000,
          reason: "",
        });
      },
    );

    await t.step("negotiates subprotocols in the server's order", async () => {
      await using client = await connect(url("proto"), ["x", "chat"]);
      assert.equal(client.socket.protocol, "chat");
      client.socket.send("protocol");
      assert.equal(await client.next(), "protocol:chat");
    });

    await t.step("refuses bad upgrades with a 4xx and a plain-text reason", async () => {
      const port = main.port;
      const host = `127.0.0.1:${port}`;
      const [forbidden, , body] = await rawStatus(
        port,
        upgradeRequest({ Host: host, Origin: "https://evil.example" }),
      );
      assert.equal(forbidden, 403);
      assert.match(body, /Origin https:\/\/evil.example is not allowed/);
      assert.equal(
        (await rawStatus(port, upgradeRequest({ Host: host, Origin: `http://${host}` })))[0],
        101,
      );
      const [version, headers] = await rawStatus(
        port,
        upgradeRequest({ "Sec-WebSocket-Version": "12" }),
      );
      assert.equal(version, 426);
      assert.equal(headers.get("sec-websocket-version"), "13");
      assert.equal(
        (await rawStatus(port, upgradeRequest({ "Sec-WebSocket-Key": "short" })))[0],
        400,
      );
      const [post, postHeaders] = await rawStatus(port, upgradeRequest({}, "POST / HTTP/1.1"));
      assert.equal(post, 405);
      assert.equal(postHeaders.get("allow"), "GET");
      assert.equal(
        (await rawStatus(port, upgradeRequest({ "Sec-WebSocket-Protocol": "x" })))[0],
        400,
      );
      assert.equal((await rawStatus(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))[0], 426);
    });

    await t.step("keepHeaders: connection.headers keeps none by default", async () => {
      const ws = await wsClient(url("headers"), { headers: { "x-user": "ann" } });
      ws.client.send("header:x-user");
      assert.equal(await ws.next(), "header:null");
      await ws.close();
    });

    await t.step("permessage-deflate is off by default", async () => {
      const ws = await wsClient(url("nodeflate"), { perMessageDeflate: true });
      assert.equal(ws.client.extensions, "");
      await ws.close();
    });
  } finally {
    await main.close();
  }

  const other = await start(
    "echo",
    { timeout: 300, perMessageDeflate: true, keepHeaders: ["X-User"] },
    "user",
  );
  const url2 = (query: string) => `ws://127.0.0.1:${other.port}/?${query}`;
  try {
    await t.step(
      "the upgrade hook refuses with its Response or passes its value to init",
      async () => {
        const [status, , body] = await rawStatus(other.port, upgradeRequest());
        assert.equal(status, 401);
        assert.equal(body, "Who are you?\n");
        await using client = await connect(url2("id=hook&user=bob"));
        client.socket.send("whoami");
        assert.equal(await client.next(), "user:bob");
        // Headers the hook added reach the 101; the handshake's own are not replaced.
        using raw = await Raw.connect(other.port);
        await raw.write(
          upgradeRequest({ Host: `127.0.0.1:${other.port}` }, "GET /?user=ann HTTP/1.1"),
        );
        const response = await within(raw.response(), 5000, "101");
        assert.equal(response.status, 101);
        assert.deepEqual(response.headers.getSetCookie(), ["user=ann", "seen=1"]);
        assert.equal(response.headers.get("upgrade")?.toLowerCase(), "websocket");
      },
    );

    await t.step("keepHeaders: a list keeps those headers only", async () => {
      const headers = { "x-user": "ann", "x-other": "1" };
      const ws = await wsClient(url2("id=headers&user=x"), { headers });
      ws.client.send("header:x-user");
      assert.equal(await ws.next(), "header:ann");
      ws.client.send("header:x-other");
      assert.equal(await ws.next(), "header:null");
      await ws.close();
    });

    await t.step("permessage-deflate is negotiated when enabled", async () => {
      const ws = await wsClient(url2("id=deflate&user=x"), { perMessageDeflate: true });
      assert.match(ws.client.extensions, /permessage-deflate/);
      ws.client.send("x".repeat(1000));
      assert.equal(await ws.next(), "x".repeat(1000));
      await ws.close();
    });

    await t.step(
      "keep-alive: a client that answers pings stays; a silent raw peer goes with 1001 and timeout",
      async () => {
        await using client = await connect(url2("id=alive&user=x"));
        using raw = await Raw.connect(other.port);
        await raw.write(
          upgradeRequest({ Host: `127.0.0.1:${other.port}` }, "GET /?id=dead&user=x HTTP/1.1"),
        );
        assert.equal((await within(raw.response(), 5000, "101")).status, 101);
        assert.deepEqual(await other.report("dead"), { type: "timeout" });
        assert.equal((await within(raw.readClose(), 5000, "close frame"))?.code, 1001);
        await new Promise((resolve) => setTimeout(resolve, 4 * 300));
        client.socket.send("still here");
        // The fixture's handleControl pushes what it sees: the pongs to keep-alive pings.
        const seen = [];
        while (seen.at(-1) !== "still here") seen.push(await within(client.next(), 5000, "echo"));
        assert.ok(seen.includes("control:pong:"), `no pong reached handleControl: ${seen}`);
      },
    );

    await t.step("shutdown closes with 1001 and terminate sees shutdown", async () => {
      const client = await connect(url2("id=down&user=x"));
      const closed = closedOf(client.socket);
      const response = await fetch(`http://127.0.0.1:${other.port}/shutdown`);
      assert.equal(await response.text(), "done\n");
      assert.equal((await closed).code, 1001);
      assert.deepEqual(await other.report("down"), { type: "shutdown", code: 1001 });
    });
  } finally {
    await other.close();
  }
}

/** The first of `candidates` that runs with `--version`, or undefined. */
export async function findBinary(
  candidates: readonly (string | undefined)[],
): Promise<string | undefined> {
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    try {
      const { success } = await new Deno.Command(candidate, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (success) return candidate;
    } catch {
      // Not there.
    }
  }
  return undefined;
}

const root = new URL("..", import.meta.url).pathname;

/** Real Bun: WEBSOCK_BUN, node_modules/.bin/bun (what .ci/run installs), or the PATH. */
export function findBun(): Promise<string | undefined> {
  return findBinary([Deno.env.get("WEBSOCK_BUN"), `${root}node_modules/.bin/bun`, "bun"]);
}

/** Real Node: WEBSOCK_NODE or the PATH. */
export function findNode(): Promise<string | undefined> {
  return findBinary([Deno.env.get("WEBSOCK_NODE") ?? "node"]);
}

/** Bundle the Node fixture server (adapters, ws inlined) for real Node; returns its path. */
export async function bundleNodeServer(): Promise<string> {
  // One file per checkout: node_modules may be shared (a symlink) between git worktrees whose
  // test runs would otherwise overwrite each other's bundle.
  const checkout = root.replace(/[^A-Za-z0-9]+/g, "_");
  const bundle = `${root}node_modules/.cache/websock/node_server${checkout}.mjs`;
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "node",
      "-o",
      bundle,
      `${root}tests/fixtures/node_server.ts`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(stderr)}`);
  return bundle;
}
