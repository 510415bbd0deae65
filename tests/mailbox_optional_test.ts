// handleInfo is optional: a handler without it takes no mail. `send` drops the message and
// returns false, the error hook hears of it once per connection, and the connection goes on.

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import type { ErrorContext } from "../engine/mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { connect, recorded, serve } from "./_helpers.ts";

const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

Deno.test("websockHandler() with a handler without handleInfo: send() returns false, onError is told once, the connection goes on", async () => {
  const errors: { error: unknown; context: ErrorContext }[] = [];
  let connection: Connection<unknown> | undefined;
  const { handler, recording } = recorded(Echo);
  await using srv = serve(handler, {
    onConnection: (c) => connection = c as Connection<unknown>,
    onError: (error, context) => errors.push({ error, context }),
  });
  const client = await connect(srv.url);
  client.send("before");
  assert.equal(await client.next(), "before");

  assert.equal(connection!.send("mail"), false);
  assert.equal(connection!.send("more mail"), false);
  assert.equal(connection!.closed, false);
  assert.equal(errors.length, 1);
  assert.ok(errors[0].error instanceof TypeError);
  assert.match((errors[0].error as Error).message, /handler has no handleInfo/);
  assert.equal(errors[0].context.source, "handleInfo");
  assert.equal(errors[0].context.connection, connection);

  client.send("after");
  assert.equal(await client.next(), "after");
  assert.deepEqual(client.pending, []);
  assert.equal((await client.close(1000, "done")).code, 1000);
  const { reason } = await recording.terminated;
  assert.deepEqual(reason, { type: "remote", code: 1000, reason: "done" });
  assert.equal(errors.length, 1);
});

Deno.test("websockHandler() tells onError once per connection about mail to a handler without handleInfo", async () => {
  const errors: ErrorContext[] = [];
  const connections: Connection<unknown>[] = [];
  await using srv = serve(Echo, {
    onConnection: (c) => connections.push(c as Connection<unknown>),
    onError: (_error, context) => errors.push(context),
  });
  await using a = await connect(srv.url);
  await using b = await connect(srv.url);
  for (const c of connections) for (let i = 0; i < 3; i++) assert.equal(c.send(i), false);
  assert.deepEqual(errors.map((e) => e.connection), connections);
  a.send("a");
  b.send("b");
  assert.deepEqual([await a.next(), await b.next()], ["a", "b"]);
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
