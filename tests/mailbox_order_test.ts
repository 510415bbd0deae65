// The mailbox against the socket's events, without a socket (TestConnection): a message sent
// to an idle connection waits for the shared microtask, and whatever happens meanwhile (data,
// the peer's close, more mail, the server's end) keeps its place behind it.

import assert from "node:assert/strict";
import { ok, push, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";

// Records every callback in order: `in:x`, `info:x`, `terminate:<type>`.
function recorder() {
  const calls: string[] = [];
  const handler = {
    init: () => ok(null),
    handleIn: (data: string | Uint8Array, state: null) => {
      calls.push(`in:${data}`);
      return push(`echo:${data}`, state);
    },
    handleInfo: (message: string, state: null) => {
      calls.push(`info:${message}`);
      return push(message, state);
    },
    terminate: (reason: { type: string }) => void calls.push(`terminate:${reason.type}`),
  } satisfies WebSock<null, string>;
  return { calls, handler };
}

Deno.test("mail to an idle connection is delivered after the call, never inside it", async () => {
  const { calls, handler } = recorder();
  const conn = await TestConnection.start(handler);
  assert.equal(conn.connection.send("a"), true);
  assert.deepEqual(calls, []);
  await conn.settle();
  assert.deepEqual(calls, ["info:a"]);
  assert.deepEqual(conn.texts(), ["a"]);
});

Deno.test("data that arrives before waiting mail is delivered goes after it", async () => {
  const { calls, handler } = recorder();
  const conn = await TestConnection.start(handler);
  conn.connection.send("a");
  const received = conn.receive("x");
  conn.connection.send("b");
  await received;
  assert.deepEqual(calls, ["info:a", "in:x", "info:b"]);
  assert.deepEqual(conn.texts(), ["a", "echo:x", "b"]);
});

Deno.test("waiting mail is delivered before the peer's close reaches terminate", async () => {
  const { calls, handler } = recorder();
  const conn = await TestConnection.start(handler);
  conn.connection.send("a");
  await conn.close(1000, "bye");
  assert.deepEqual(calls, ["info:a", "terminate:remote"]);
  assert.deepEqual(conn.texts(), []); // its push is not sent: the socket is closed
});

Deno.test("the server's end drops waiting mail: terminate runs, handleInfo does not", async () => {
  const { calls, handler } = recorder();
  const conn = await TestConnection.start(handler);
  conn.connection.send("a");
  await conn.shutdown();
  assert.deepEqual(calls, ["terminate:shutdown"]);
  assert.deepEqual(conn.texts(), []);
  assert.equal(conn.connection.send("late"), false);
});

Deno.test("maxQueuedEvents counts the waiting mail: with 2, the third message closes with 1013", async () => {
  const { calls, handler } = recorder();
  const conn = await TestConnection.start(handler, { maxQueuedEvents: 2 });
  const accepted = ["a", "b", "c"].map((m) => conn.connection.send(m));
  assert.deepEqual(accepted, [true, true, false]);
  await conn.settle();
  assert.equal(conn.closeFrame?.code, 1013);
  assert.deepEqual(calls, ["terminate:error"]);
});
