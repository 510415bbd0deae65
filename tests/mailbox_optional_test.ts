// handleInfo is optional: a handler without it takes no mail. `send` drops the message and
// returns false, the error hook hears of it once per connection, and the connection goes on.
// All of it is the engine's, so it runs on TestConnection (the real engine, no socket).

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import type { ErrorContext } from "../engine/mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { recorded } from "./_helpers.ts";

const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

Deno.test("a handler without handleInfo: send() returns false, onError is told once, the connection goes on", async () => {
  const errors: { error: unknown; context: ErrorContext }[] = [];
  const { handler, recording } = recorded(Echo);
  const conn = await TestConnection.start(handler as WebSock<null, unknown>, {
    onError: (error, context) => void errors.push({ error, context }),
  });
  const connection: Connection<unknown> = conn.connection;
  await conn.receive("before");
  assert.deepEqual(conn.texts(), ["before"]);

  assert.equal(connection.send("mail"), false);
  assert.equal(connection.send("more mail"), false);
  assert.equal(connection.closed, false);
  assert.equal(errors.length, 1);
  assert.ok(errors[0].error instanceof TypeError);
  assert.match((errors[0].error as Error).message, /handler has no handleInfo/);
  assert.equal(errors[0].context.source, "handleInfo");
  assert.equal(errors[0].context.connection, connection);

  await conn.settle();
  await conn.receive("after");
  assert.deepEqual(conn.texts(), ["before", "after"]);
  await conn.close(1000, "done");
  assert.equal(conn.closeFrame, null);
  const { reason } = await recording.terminated;
  assert.deepEqual(reason, { type: "remote", code: 1000, reason: "done" });
  assert.equal(errors.length, 1);
});

Deno.test("onError is told once per connection about mail to a handler without handleInfo", async () => {
  const errors: ErrorContext[] = [];
  const options = {
    onError: (_error: unknown, context: ErrorContext) => void errors.push(context),
  };
  const NoMail = Echo as WebSock<null, number>;
  const a = await TestConnection.start(NoMail, options);
  const b = await TestConnection.start(NoMail, options);
  const connections = [a.connection, b.connection];
  for (const c of connections) for (let i = 0; i < 3; i++) assert.equal(c.send(i), false);
  assert.deepEqual(errors.map((e) => e.connection), connections);
  await a.receive("a");
  await b.receive("b");
  assert.deepEqual([a.texts(), b.texts()], [["a"], ["b"]]);
});

Deno.test("TestConnection.info() to a handler without handleInfo returns false and records one error", async () => {
  const conn = await TestConnection.start(Echo as WebSock<null, string>);
  assert.equal(await conn.info("mail"), false);
  assert.equal(await conn.info("mail"), false);
  assert.equal(conn.errors.length, 1);
  assert.ok(conn.errors[0] instanceof TypeError);
  await conn.receive("still here");
  assert.deepEqual(conn.texts(), ["still here"]);
  assert.equal(conn.closeFrame, null);
});
