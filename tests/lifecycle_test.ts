// Connection lifecycle: terminate reasons, limits, the mailbox, ordering under async
// callbacks, and shutdown. What is the engine's alone runs on TestConnection (the real engine,
// no socket, a fake clock); over real sockets stays what needs them: Deno's close frames and
// keep-alive, a peer that does not read, and the adapter's shutdown(). (The conformance suite
// checks the same semantics over the wire on every adapter.)

import assert from "node:assert/strict";
import { type Connection, ok, push, stop, type WebSock } from "../mod.ts";
import { type Drainable, Registry } from "../engine/mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { connect, delay, Raw, recorded, serve, upgradeRequest } from "./_helpers.ts";

const Echo = {
  init: () => ok(0),
  handleIn: (data, count) => push(data, count + 1),
  handleInfo: (_m, count) => ok(count),
} satisfies WebSock<number>;

Deno.test("terminate sees remote with the peer's close code and reason", async () => {
  const { handler, recording } = recorded(Echo);
  const conn = await TestConnection.start(handler);
  await conn.receive("a");
  assert.deepEqual(conn.texts(), ["a"]);
  await conn.close(4321, "gone fishing");
  const { reason, state } = await recording.terminated;
  assert.deepEqual(reason, { type: "remote", code: 4321, reason: "gone fishing" });
  assert.equal(state, 1);
});

Deno.test("terminate sees remote 1005 when the peer's close frame has no code", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler);
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest());
  assert.equal((await raw.response()).status, 101);
  await raw.frame(8);
  const { reason } = await recording.terminated;
  assert.deepEqual(reason, { type: "remote", code: 1005, reason: "" });
  await raw.readClose();
});

Deno.test("terminate sees a remote or error end when the peer drops TCP mid-message", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler);
  const raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest());
  await raw.response();
  await raw.frame(1, "partial", false);
  raw.close();
  const { reason } = await recording.terminated;
  assert.ok(reason.type === "remote" || reason.type === "error", reason.type);
  await delay(10);
  assert.equal(recording.terminations.length, 1);
});

Deno.test("terminate runs exactly once, with the last good state", async () => {
  const { handler, recording } = recorded({
    ...Echo,
    handleIn: (data, count) => data === "bad" ? ({} as never) : push(data, count + 1),
  });
  const conn = await TestConnection.start(handler, { onError() {} });
  // All four arrive before the engine runs any of them; then the peer closes too.
  await Promise.all(["1", "2", "bad", "3"].map((m) => conn.receive(m)));
  await conn.close(1000);
  assert.deepEqual(conn.closeFrame, { code: 1011, reason: "Internal error" });
  assert.deepEqual(conn.texts(), ["1", "2"]);
  await recording.terminated;
  assert.equal(recording.terminations.length, 1);
  assert.equal(recording.terminations[0].state, 2);
});

Deno.test("dataTimeout closes a client that sends no data with 1001, pongs or not", async () => {
  const { handler, recording } = recorded(Echo);
  const conn = await TestConnection.start(handler, { dataTimeout: 80 });
  // Activity keeps it alive.
  for (let i = 0; i < 4; i++) {
    await conn.advance(30);
    await conn.receive("ping");
  }
  assert.equal(conn.texts().length, 4);
  // Then only pongs: they are no data.
  const last = conn.clock.now();
  for (let i = 0; i < 7; i++) {
    await conn.advance(10);
    await conn.pong();
  }
  await conn.advance(9);
  assert.equal(conn.clock.now() - last, 79);
  assert.equal(conn.closeFrame, null, "closed before dataTimeout");
  for (let i = 0; i < 21 && conn.closeFrame === null; i++) await conn.advance(1);
  assert.ok(conn.clock.now() - last <= 100, "closed within 1.25 × dataTimeout");
  assert.ok(conn.clock.now() >= 150, "activity postponed the timeout");
  assert.deepEqual(conn.closeFrame, { code: 1001, reason: "Idle timeout" });
  assert.deepEqual((await recording.terminated).reason, { type: "timeout" });
});

Deno.test("timeout: a client that only reads stays open, answering Deno's pings", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler, { timeout: 200 });
  const client = await connect(srv.url);
  await delay(800);
  assert.equal(recording.terminations.length, 0, "closed although it answered pings");
  client.send("still here");
  assert.equal(await client.next(), "still here");
  await client.close(1000);
  assert.deepEqual((await recording.terminated).reason, { type: "remote", code: 1000, reason: "" });
});

Deno.test("timeout: 0 turns the idle timeout off", async () => {
  for (const controlFrames of [true, false]) {
    const conn = await TestConnection.start(Echo, { timeout: 0, controlFrames });
    assert.equal(conn.clock.pending, 0, "no sweeper");
    await conn.advance(24 * 3600_000);
    await conn.receive("still here");
    assert.deepEqual(conn.sent, [{ type: "text", data: "still here" }], "no ping, no close");
    assert.equal(conn.closeFrame, null);
  }
});

Deno.test("the default timeout is 60 seconds", async () => {
  const { DEFAULTS } = await import("../engine/options.ts");
  assert.equal(DEFAULTS.timeout, 60_000);
});

Deno.test("timeout: a peer that never answers Deno's ping is closed with 1001 and terminate sees timeout", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler, { timeout: 200 });
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest());
  await raw.response();
  const started = Date.now();
  const { reason } = await recording.terminated;
  assert.deepEqual(reason, { type: "timeout" });
  const after = Date.now() - started;
  assert.ok(after >= 150 && after < 1000, `closed after ${after} ms`);
  assert.equal((await raw.readFrame())?.opcode, 9, "Deno pinged first");
  assert.equal((await raw.readClose())?.code, 1001);
});

Deno.test("maxMessageBytes: a bigger message closes with 1009 and terminate sees an error", async () => {
  const seen: unknown[] = [];
  const { handler, recording } = recorded({
    ...Echo,
    handleIn(data, count) {
      seen.push(data);
      return push(data, count + 1);
    },
  });
  const conn = await TestConnection.start(handler, { maxMessageBytes: 10 });
  await conn.receive("0123456789");
  assert.deepEqual(conn.texts(), ["0123456789"]);
  await conn.receive("ééééé!"); // 11 UTF-8 bytes, 6 characters
  assert.deepEqual(conn.closeFrame, { code: 1009, reason: "Message too big" });
  const { reason } = await recording.terminated;
  assert.ok(reason.type === "error" && reason.error instanceof RangeError);
  assert.deepEqual(seen, ["0123456789"]);
});

Deno.test("maxMessageBytes applies to binary messages and defaults to 1 MiB", async () => {
  const conn = await TestConnection.start(Echo);
  await conn.receive(new Uint8Array(1024 * 1024));
  assert.equal((conn.sent[0].data as Uint8Array).byteLength, 1024 * 1024);
  await conn.receive(new Uint8Array(1024 * 1024 + 1));
  assert.equal(conn.closeFrame?.code, 1009);
  assert.equal(conn.sent.length, 1);
});

Deno.test("maxQueuedEvents: a flood past a slow handler closes with 1013", async () => {
  const { handler, recording } = recorded(
    {
      ...Echo,
      handleIn: async (data: string | Uint8Array, count: number) => {
        await delay(20);
        return push(data, count + 1);
      },
    } satisfies WebSock<number>,
  );
  const conn = await TestConnection.start(handler, { maxQueuedEvents: 4 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => conn.receive(String(i))));
  assert.deepEqual(conn.closeFrame, { code: 1013, reason: "Too many queued events" });
  const { reason } = await recording.terminated;
  assert.ok(reason.type === "error" && reason.error instanceof RangeError);
});

Deno.test("maxQueuedEvents bounds the mailbox: send() returns false once full", async () => {
  let connection: Connection<number> | undefined;
  const { handler, recording } = recorded(
    {
      init: (_a: undefined, c: Connection<number>) => {
        connection = c;
        return ok(0);
      },
      handleIn: (_d: string | Uint8Array, s: number) => ok(s),
      handleInfo: (_m: number, s: number) => ok(s),
    } satisfies WebSock<number, number>,
  );
  const conn = await TestConnection.start(handler, { maxQueuedEvents: 3 });
  assert.equal(connection, conn.connection);
  const results = [1, 2, 3, 4, 5].map((n) => connection!.send(n));
  assert.deepEqual(results, [true, true, true, false, false]);
  await conn.settle();
  assert.equal(conn.closeFrame?.code, 1013);
  await recording.terminated;
  assert.equal(connection.closed, true);
});

Deno.test("maxBufferedBytes: a peer that does not read is closed with 1008", async () => {
  const chunk = new Uint8Array(64 * 1024);
  let connection: Connection<"more"> | undefined;
  const { handler, recording } = recorded(
    {
      init: (_a: undefined, c: Connection<"more">) => {
        connection = c;
        c.send("more");
        return ok(0);
      },
      handleIn: (_d: string | Uint8Array, s: number) => ok(s),
      handleInfo(_m: "more", sent: number) {
        if (sent < 2000) connection!.send("more");
        return push(chunk, sent + 1);
      },
    } satisfies WebSock<number, "more">,
  );
  await using srv = serve(handler, { maxBufferedBytes: 256 * 1024 });
  using raw = await Raw.connect(srv.port);
  await raw.write(upgradeRequest());
  // Never read: the server's writes back up.
  const { reason, state } = await recording.terminated;
  assert.ok(reason.type === "error" && reason.error instanceof RangeError, JSON.stringify(reason));
  assert.match((reason.error as Error).message, /maxBufferedBytes/);
  assert.ok(state < 2000, `stopped after ${state} chunks`);
  raw.close();
});

Deno.test("async callbacks never overlap and events keep their order", async () => {
  const log: string[] = [];
  let active = 0;
  let connection: Connection<string> | undefined;
  const Slow = {
    init: async (_a: undefined, c: Connection<string>) => {
      connection = c;
      await delay(5);
      return ok([] as string[]);
    },
    async handleIn(data: string | Uint8Array, seen: string[]) {
      active++;
      assert.equal(active, 1, "callbacks overlapped");
      log.push(`in:${data}`);
      if (data === "2") connection!.send(`info-from-2`);
      await delay(Number(data) % 3 === 0 ? 8 : 1);
      active--;
      return push(`done:${data}`, [...seen, String(data)]);
    },
    handleInfo(message: string, seen: string[]) {
      assert.equal(active, 0, "handleInfo overlapped an async handleIn");
      log.push(`info:${message}`);
      return ok(seen);
    },
  } satisfies WebSock<string[], string>;
  // Not waiting for the async init: the six messages arrive while it runs.
  const conn = TestConnection.open(Slow);
  for (let i = 1; i <= 6; i++) void conn.receive(String(i));
  await conn.settle();
  const replies = conn.texts();
  assert.deepEqual(replies, ["1", "2", "3", "4", "5", "6"].map((n) => `done:${n}`));
  assert.deepEqual(
    log,
    [
      "in:1",
      "in:2",
      "in:3",
      "in:4",
      "in:5",
      "in:6",
      "info:info-from-2",
    ].slice(0, 2).concat(log.slice(2)),
  );
  // The mailbox message sent during handleIn("2") is queued behind 3..6, which arrived first.
  assert.ok(log.indexOf("info:info-from-2") > log.indexOf("in:2"));
  assert.deepEqual(log, ["in:1", "in:2", "in:3", "in:4", "in:5", "in:6", "info:info-from-2"]);
});

Deno.test("messages received during an async init wait for it", async () => {
  const Handler = {
    init: async () => {
      await delay(30);
      return ok("ready");
    },
    handleIn: (data: string | Uint8Array, state: string) => push(`${state}:${data}`, state),
    handleInfo: (_m: never, s: string) => ok(s),
  } satisfies WebSock<string>;
  const conn = TestConnection.open(Handler);
  void conn.receive("a");
  void conn.receive("b");
  assert.equal(conn.state, undefined, "init is still running");
  await conn.settle();
  assert.deepEqual(conn.texts(), ["ready:a", "ready:b"]);
});

Deno.test("init that throws closes with 1011 and terminate does not run", async () => {
  const { handler, recording } = recorded({
    ...Echo,
    init: () => {
      throw new Error("no");
    },
  });
  const sources: string[] = [];
  const conn = await TestConnection.start(handler, {
    onError: (_e, c) => void sources.push(c.source),
  });
  assert.equal(conn.closeFrame?.code, 1011);
  await conn.close(1011);
  assert.equal(conn.over, true);
  assert.equal(recording.terminations.length, 0);
  assert.deepEqual(sources, ["init"]);
});

Deno.test("a terminate that throws is reported and harms nothing", async () => {
  // (Over real sockets, reliability_test.ts's "when terminate throws" checks that the server
  // goes on serving.)
  const sources: string[] = [];
  const Failing = {
    ...Echo,
    terminate() {
      throw new Error("cleanup failed");
    },
  };
  const onError = (_e: unknown, c: { source: string }) => void sources.push(c.source);
  const conn = await TestConnection.start(Failing, { onError });
  await conn.close(1000);
  assert.equal(conn.over, true);
  assert.deepEqual(sources, ["terminate"]);
  const again = await TestConnection.start(Failing, { onError });
  await again.receive("x");
  assert.deepEqual(again.texts(), ["x"]);
});

Deno.test("the mailbox delivers from a timer to handleInfo", async () => {
  type Tick = { n: number };
  const Ticker = {
    init(_a: undefined, connection: Connection<Tick>) {
      let n = 0;
      const timer = setInterval(() => connection.send({ n: ++n }), 5);
      return ok({ timer });
    },
    handleIn: (_d: string | Uint8Array, s: { timer: ReturnType<typeof setInterval> }) => ok(s),
    handleInfo: (tick: Tick, s: { timer: ReturnType<typeof setInterval> }) =>
      tick.n === 3 ? stop("normal", s, 1000, `tick ${tick.n}`) : push(`tick ${tick.n}`, s),
    terminate: (_r: unknown, s: { timer: ReturnType<typeof setInterval> }) =>
      clearInterval(s.timer),
  } satisfies WebSock<{ timer: ReturnType<typeof setInterval> }, Tick>;
  const conn = await TestConnection.start(Ticker);
  for (let i = 0; i < 400 && !conn.over; i++) await delay(5);
  assert.equal(conn.closeFrame?.code, 1000);
  assert.deepEqual(conn.texts(), ["tick 1", "tick 2", "tick 3"]);
});

Deno.test("the mailbox delivers from another connection, and send() is never synchronous", async () => {
  const members = new Map<string, Connection<string>>();
  const Room = {
    init(name: string, connection: Connection<string>) {
      members.set(name, connection);
      return ok(name);
    },
    handleIn(data: string | Uint8Array, name: string) {
      let delivered = 0;
      let inline = false;
      for (const [other, connection] of members) {
        if (other === name) continue;
        if (connection.send(`${name}: ${data}`)) delivered++;
        inline ||= sawInfo;
      }
      return push(`sent to ${delivered}${inline ? " (inline!)" : ""}`, name);
    },
    handleInfo(message: string, name: string) {
      sawInfo = true;
      return push(message, name);
    },
    terminate: (_r: unknown, name: string) => void members.delete(name),
  } satisfies WebSock<string, string, string>;
  let sawInfo = false;
  const ann = await TestConnection.start(Room, { arg: "ann" });
  const bob = await TestConnection.start(Room, { arg: "bob" });
  assert.equal(members.size, 2);
  await ann.receive("hello bob");
  await bob.settle();
  assert.deepEqual(ann.texts(), ["sent to 1"]);
  assert.deepEqual(bob.texts(), ["ann: hello bob"]);
  await ann.close();
  await bob.close();
});

Deno.test("send() to a closed connection returns false and is harmless", async () => {
  let connection: Connection<string> | undefined;
  const { handler, recording } = recorded(
    {
      init: (_a: undefined, c: Connection<string>) => {
        connection = c;
        return ok(0);
      },
      handleIn: (_d: string | Uint8Array, s: number) => ok(s),
      handleInfo: (_m: string, s: number) => ok(s),
    } satisfies WebSock<number, string>,
  );
  const conn = await TestConnection.start(handler);
  await conn.close();
  await recording.terminated;
  assert.equal(connection!.closed, true);
  assert.equal(connection!.send("anyone?"), false);
  await conn.settle();
  assert.deepEqual(conn.sent, []);
});

Deno.test("handler.shutdown() closes every connection with 1001, terminate sees shutdown once each", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler);
  const clients = await Promise.all([1, 2, 3, 4, 5].map(() => connect(srv.url)));
  for (const c of clients) {
    c.send("x");
    await c.next();
  }
  assert.equal(srv.handler.registry.size, 5);
  await srv.handler.shutdown();
  assert.equal(recording.terminations.length, 5);
  for (const t of recording.terminations) {
    assert.deepEqual(t.reason, { type: "shutdown", code: 1001 });
  }
  for (const c of clients) {
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    assert.equal(closed.reason, "Server shutting down");
  }
  assert.equal(srv.handler.registry.size, 0);
});

Deno.test("handler.shutdown({ restart: true }) closes with 1012", async () => {
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler);
  const clients = await Promise.all([1, 2].map(() => connect(srv.url)));
  await srv.handler.shutdown({ restart: true });
  for (const c of clients) assert.equal((await c.closed).code, 1012);
  assert.deepEqual(recording.terminations.map((t) => t.reason), [
    { type: "shutdown", code: 1012 },
    { type: "shutdown", code: 1012 },
  ]);
});

Deno.test("handler.shutdown({ restart: true }) then server.shutdown() at once: the clients see 1012 (regression)", async () => {
  const { handler } = recorded(Echo);
  await using srv = serve(handler);
  const clients = await Promise.all([1, 2, 3].map(() => connect(srv.url)));
  // The documented way out: drain, then stop the server, without waiting in between. Deno's
  // own shutdown sends 1001 to every socket whose close frame is not written yet.
  await srv.handler.shutdown({ restart: true });
  await srv.server.shutdown();
  for (const c of clients) {
    const { code, reason } = await c.closed;
    assert.deepEqual({ code, reason }, { code: 1012, reason: "Server restarting" });
  }
});

Deno.test("registry.shutdown() awaits its afterDrain steps once every connection is over, each step once", async () => {
  const registry = new Registry();
  const order: string[] = [];
  const engine: Drainable = {
    shutdown(restart) {
      order.push(`shutdown(${restart})`);
      setTimeout(() => {
        order.push("over");
        registry.delete(engine);
      }, 5);
    },
    abandon: () => void order.push("abandon"),
  };
  const step = async () => {
    await delay(5);
    order.push("step");
  };
  registry.afterDrain(step);
  registry.afterDrain(step); // the same step again: kept once
  registry.add(engine);
  await registry.shutdown({ restart: true });
  assert.deepEqual(order, ["shutdown(true)", "over", "step"]);
  await registry.shutdown(); // no connection left: the steps still run
  assert.deepEqual(order, ["shutdown(true)", "over", "step", "step"]);
});

Deno.test("handler.shutdown() waits for an in-flight async callback before terminate", async () => {
  const order: string[] = [];
  await using srv = serve(
    {
      ...Echo,
      handleIn: async (data: string | Uint8Array, count: number) => {
        order.push("start");
        await delay(30);
        order.push("end");
        return push(data, count + 1);
      },
      terminate: (reason) => void order.push(`terminate:${reason.type}`),
    } satisfies WebSock<number>,
  );
  const client = await connect(srv.url);
  client.send("x");
  await delay(5);
  await srv.handler.shutdown();
  assert.deepEqual(order, ["start", "end", "terminate:shutdown"]);
  await client.closed;
});

Deno.test("Deno's server.shutdown() still runs terminate exactly once per connection", async () => {
  const { handler, recording } = recorded(Echo);
  const srv = serve(handler);
  const clients = await Promise.all([1, 2, 3].map(() => connect(srv.url)));
  await srv.server.shutdown();
  await Promise.all(clients.map((c) => c.closed));
  while (recording.terminations.length < 3) await delay(2);
  await delay(10);
  assert.equal(recording.terminations.length, 3);
  assert.equal(srv.handler.registry.size, 0);
});

Deno.test("a close frame from the peer reaches terminate after the messages before it", async () => {
  const seen: string[] = [];
  const { handler, recording } = recorded(
    {
      ...Echo,
      handleIn: async (data: string | Uint8Array, count: number) => {
        await delay(5);
        seen.push(String(data));
        return ok(count + 1);
      },
    } satisfies WebSock<number>,
  );
  const conn = await TestConnection.start(handler);
  void conn.receive("a");
  void conn.receive("b");
  await conn.close(4000, "done");
  const { reason, state } = await recording.terminated;
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(state, 2);
  assert.deepEqual(reason, { type: "remote", code: 4000, reason: "done" });
});

Deno.test("handler.shutdown({ timeout }) abandons a connection whose callback never settles", async () => {
  const { handler, recording } = recorded(
    {
      ...Echo,
      handleIn: (data: string | Uint8Array, count: number) =>
        data === "hang" ? new Promise<never>(() => {}) : push(data, count + 1),
    } satisfies WebSock<number>,
  );
  await using srv = serve(handler);
  const client = await connect(srv.url);
  client.send("1");
  await client.next();
  client.send("hang");
  await delay(5);
  await srv.handler.shutdown({ timeout: 50 });
  assert.equal((await client.closed).code, 1001);
  assert.deepEqual(recording.terminations.map((t) => [t.reason, t.state]), [
    [{ type: "shutdown", code: 1001 }, 1],
  ]);
  assert.equal(srv.handler.registry.size, 0);
});

Deno.test("registry.afterDrain() refuses a step that is not a function when it is added", () => {
  assert.throws(
    () => new Registry().afterDrain("flush" as never),
    new TypeError('Invalid afterDrain step: "flush" is not a function'),
  );
});
