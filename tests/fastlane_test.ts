// connection.sendFrame(): a frame straight to the peer, without handleInfo, that never
// overtakes the pushes of the connection's earlier events. All on TestConnection (the real
// engine, no socket): the order is the engine's.

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";

// Pushes what it receives; "slow:X" answers X after 30 ms; mail is pushed as "info:X".
const Slow: WebSock<Connection<string>, string, undefined> = {
  init: (_arg, connection) => ok(connection),
  handleIn(data, state) {
    if (typeof data === "string" && data.startsWith("slow:")) {
      return new Promise((resolve) => setTimeout(() => resolve(push(data.slice(5), state)), 30));
    }
    return push(data, state);
  },
  handleInfo: (message, state) => push(`info:${message}`, state),
};

Deno.test("sendFrame() sends at once when the connection is idle, without handleInfo", async () => {
  let infos = 0;
  const conn = await TestConnection.start({
    ...Slow,
    handleInfo: (message, state) => (infos++, push(message, state)),
  });
  assert.equal(conn.connection.sendFrame("a"), true);
  assert.equal(conn.connection.sendFrame(new Uint8Array([1])), true);
  assert.deepEqual(conn.sent, [{ type: "text", data: "a" }, {
    type: "binary",
    data: new Uint8Array([1]),
  }]);
  assert.equal(infos, 0);
});

Deno.test("sendFrame() waits behind queued mail and an async callback", async () => {
  const conn = await TestConnection.start(Slow);
  conn.connection.send("m1");
  assert.equal(conn.connection.sendFrame("f1"), true);
  await conn.settle();
  assert.deepEqual(conn.texts(), ["info:m1", "f1"]);
  conn.takeSent();
  const slow = conn.receive("slow:s");
  assert.equal(conn.connection.sendFrame("f2"), true);
  assert.deepEqual(conn.texts(), []);
  await slow;
  await conn.settle();
  assert.deepEqual(conn.texts(), ["s", "f2"]);
});

Deno.test("sendFrame() returns false once the connection is closed", async () => {
  const conn = await TestConnection.start(Slow);
  await conn.close(1000, "");
  assert.equal(conn.connection.sendFrame("late"), false);
  assert.deepEqual(conn.sent, []);
});

Deno.test("sendFrame() returns false and closes with 1013 when the queue is full", async () => {
  const conn = await TestConnection.start(Slow, { maxQueuedEvents: 2 });
  const slow = conn.receive("slow:s");
  assert.equal(conn.connection.sendFrame("f1"), true);
  assert.equal(conn.connection.sendFrame("f2"), true);
  assert.equal(conn.connection.sendFrame("f3"), false);
  await slow;
  await conn.settle();
  assert.equal(conn.closeFrame?.code, 1013);
});

Deno.test("sendFrame() returns false and closes with 1008 when the peer does not read", async () => {
  const conn = await TestConnection.start(Slow, { maxBufferedBytes: 4 });
  conn.setBufferedAmount(100);
  // Nothing was queued before the engine's first look, so the first frame goes out; the look
  // before the next one sees 100 - 8 bytes unread from before it, more than 4.
  assert.equal(conn.connection.sendFrame("12345678"), true);
  assert.equal(conn.connection.sendFrame("again"), false);
  assert.equal(conn.closeFrame?.code, 1008);
  assert.equal(conn.connection.sendFrame("more"), false);
});

Deno.test("sendFrame() throws a TypeError for anything but a string or a Uint8Array", async () => {
  const conn = await TestConnection.start(Slow);
  assert.throws(() => conn.connection.sendFrame(42 as never), TypeError);
  assert.throws(() => conn.connection.sendFrame({ a: 1 } as never), /not a string or a Uint8Array/);
  assert.equal(conn.closeFrame, null);
});

Deno.test("sendFrame() never overtakes the pushes of earlier events", async () => {
  let started = () => {};
  const running = new Promise<void>((resolve) => started = resolve);
  const Handler: WebSock<Connection<string>, string, undefined> = {
    ...Slow,
    handleIn(data, state) {
      if (data !== "slow") return push(data, state);
      started();
      return new Promise((resolve) => setTimeout(() => resolve(push("reply", state)), 30));
    },
  };
  const conn = await TestConnection.start(Handler);
  const connection = conn.connection;
  await conn.receive("hello");
  assert.deepEqual(conn.texts(), ["hello"]);
  assert.equal(connection.sendFrame("direct"), true);
  assert.deepEqual(conn.texts(), ["hello", "direct"]);
  conn.takeSent();
  const slow = conn.receive("slow");
  await running;
  connection.send("mail");
  assert.equal(connection.sendFrame("frame"), true);
  assert.deepEqual(conn.texts(), []);
  await slow;
  assert.deepEqual(conn.texts(), ["reply", "info:mail", "frame"]);
});

Deno.test("sendFrame() works through telemetry's probe and counts as sent", async () => {
  let sent: { text: number; binary: number } | undefined;
  const conn = await TestConnection.start(Slow, {
    telemetry: { onConnectionStop: ({ stats }) => void (sent = stats.sent) },
  });
  assert.equal(conn.connection.sendFrame("a"), true);
  assert.equal(conn.connection.sendFrame(new Uint8Array([1])), true);
  await conn.close(1000, "");
  assert.deepEqual(conn.sent.length, 2);
  assert.equal(sent?.text, 1);
  assert.equal(sent?.binary, 1);
});
