// Every result form and close code. What a result becomes (frames, a close code, what
// terminate sees) is the engine's: it runs on TestConnection, the real engine without a socket.
// Over real sockets (Deno.serve + WebSocket client) stays what the Deno adapter translates:
// text and binary frames, and Deno's lack of control frames. The conformance suite checks
// results on the wire on every adapter ("push sends a list", "stop:* closes with", ...).

import assert from "node:assert/strict";
import { binary, ok, ping, pong, push, stop, text, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { connect, recorded, serve } from "./_helpers.ts";

type Msg = never;

const Echo = {
  init: () => ok(0),
  handleIn: (data, count) => push(data, count + 1),
  handleInfo: (_m, count) => ok(count),
} satisfies WebSock<number, Msg>;

Deno.test("websockHandler() echoes text as string and binary as Uint8Array", async () => {
  await using srv = serve(Echo);
  await using client = await connect(srv.url);
  client.send("hello");
  client.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await client.take(2), ["hello", new Uint8Array([1, 2, 3])]);
});

Deno.test("handleIn receives a Uint8Array for binary frames", async () => {
  const seen: unknown[] = [];
  await using srv = serve({
    ...Echo,
    handleIn(data, count) {
      seen.push(data);
      return push(data, count);
    },
  });
  await using client = await connect(srv.url);
  client.send(new Uint8Array([9]));
  await client.next();
  assert.ok(seen[0] instanceof Uint8Array);
});

Deno.test("push() sends a list of text(), binary() and shorthand messages in order", async () => {
  const conn = await TestConnection.start({
    ...Echo,
    handleIn: (_data, count) =>
      push(["a", text("b"), binary(new Uint8Array([7])), new Uint8Array([8])], count),
  });
  await conn.receive("go");
  assert.deepEqual(conn.sent, [
    { type: "text", data: "a" },
    { type: "text", data: "b" },
    { type: "binary", data: new Uint8Array([7]) },
    { type: "binary", data: new Uint8Array([8]) },
  ]);
});

Deno.test("init can push messages before any is received", async () => {
  const conn = await TestConnection.start({ ...Echo, init: () => push(["welcome", "twice"], 0) });
  assert.deepEqual(conn.texts(), ["welcome", "twice"]);
});

const stopCases: {
  name: string;
  result: (state: number) => ReturnType<typeof stop<number>>;
  code: number;
  reason: string;
  end: string;
}[] = [
  {
    name: "stop('normal')",
    result: (s) => stop("normal", s),
    code: 1000,
    reason: "",
    end: "normal",
  },
  {
    name: "stop('shutdown')",
    result: (s) => stop("shutdown", s),
    code: 1001,
    reason: "",
    end: "shutdown",
  },
  {
    name: "stop('restart')",
    result: (s) => stop("restart", s),
    code: 1012,
    reason: "",
    end: "shutdown",
  },
  { name: "stop('boom')", result: (s) => stop("boom", s), code: 1011, reason: "", end: "error" },
  {
    name: "stop(new Error())",
    result: (s) => stop(new Error("x"), s),
    code: 1011,
    reason: "",
    end: "error",
  },
  {
    name: "stop('normal', s, 4000)",
    result: (s) => stop("normal", s, 4000),
    code: 4000,
    reason: "",
    end: "normal",
  },
  {
    name: "stop('normal', s, { code, reason })",
    result: (s) => stop("normal", s, { code: 4001, reason: "see you" }),
    code: 4001,
    reason: "see you",
    end: "normal",
  },
  {
    name: "stop('boom', s, 3000)",
    result: (s) => stop("boom", s, 3000),
    code: 3000,
    reason: "",
    end: "error",
  },
];

for (const c of stopCases) {
  Deno.test(`${c.name} closes with ${c.code} and terminate sees ${c.end}`, async () => {
    const { handler, recording } = recorded({ ...Echo, handleIn: (_d, s) => c.result(s + 1) });
    const conn = await TestConnection.start(handler);
    await conn.receive("x");
    const closed = conn.closeFrame!;
    assert.equal(closed.code, c.code);
    assert.equal(closed.reason, c.reason);
    const { reason, state } = await recording.terminated;
    assert.equal(reason.type, c.end);
    assert.equal(state, 1);
    if (reason.type === "normal") assert.equal(reason.code, c.code);
    if (reason.type === "shutdown") assert.equal(reason.code, c.code);
  });
}

Deno.test("stop() with messages sends them before the close frame, in order", async () => {
  const conn = await TestConnection.start({
    ...Echo,
    handleIn: (_d, s) => stop("normal", s, { code: 4002, reason: "done" }, ["one", "two"]),
  });
  await conn.receive("x");
  const closed = conn.closeFrame!;
  assert.deepEqual(conn.texts(), ["one", "two"]);
  assert.equal(closed.code, 4002);
  assert.equal(closed.reason, "done");
});

for (
  const [name, close, error] of [
    ["code 1005", 1005, RangeError],
    ["code 1006", 1006, RangeError],
    ["code 1004", 1004, RangeError],
    ["code 1015", 1015, RangeError],
    ["code 999", 999, RangeError],
    ["code 5000", 5000, RangeError],
    ["code 2000", 2000, RangeError],
    ["code '4000'", "4000", TypeError],
    ["a reason over 123 bytes", { code: 4000, reason: "é".repeat(62) }, RangeError],
  ] as const
) {
  Deno.test(`stop() with ${name} closes with 1011 and terminate sees a ${error.name}`, async () => {
    const errors: unknown[] = [];
    const { handler, recording } = recorded({
      ...Echo,
      handleIn: (_d, s) => stop("normal", s + 1, close as number),
    });
    const conn = await TestConnection.start(handler, { onError: (e) => void errors.push(e) });
    await conn.receive("x");
    assert.equal(conn.closeFrame?.code, 1011);
    const { reason, state } = await recording.terminated;
    assert.equal(reason.type, "error");
    assert.ok(reason.type === "error" && reason.error instanceof error);
    assert.equal(state, 0, "terminate gets the last good state, not the invalid result's");
    assert.equal(errors.length, 1);
  });
}

Deno.test("a callback that throws closes with 1011 without leaking the message", async () => {
  const errors: { error: unknown; source: string }[] = [];
  const { handler, recording } = recorded({
    ...Echo,
    handleIn(data, s) {
      if (data === "crash") throw new Error("secret database password");
      return push(data, s + 1);
    },
  });
  const conn = await TestConnection.start(handler, {
    onError: (error, context) => void errors.push({ error, source: context.source }),
  });
  await conn.receive("fine");
  assert.deepEqual(conn.texts(), ["fine"]);
  await conn.receive("crash");
  const closed = conn.closeFrame!;
  assert.equal(closed.code, 1011);
  assert.doesNotMatch(closed.reason, /secret/);
  const { reason, state } = await recording.terminated;
  assert.ok(reason.type === "error" && (reason.error as Error).message.includes("secret"));
  assert.equal(state, 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].source, "handleIn");
});

Deno.test("an async callback that rejects closes with 1011 and terminate sees the error", async () => {
  const { handler, recording } = recorded({
    ...Echo,
    handleIn: async () => {
      await Promise.resolve();
      throw new TypeError("nope");
    },
  });
  const conn = await TestConnection.start(handler, { onError() {} });
  await conn.receive("x");
  assert.equal(conn.closeFrame?.code, 1011);
  const { reason } = await recording.terminated;
  assert.ok(reason.type === "error" && reason.error instanceof TypeError);
});

for (const bad of [42, null, undefined, { kind: "okay", state: 1 }, "ok", [1]]) {
  Deno.test(`a callback returning ${JSON.stringify(bad)} closes with 1011 and a TypeError naming it`, async () => {
    const { handler, recording } = recorded({
      ...Echo,
      handleIn: () => bad as unknown as ReturnType<typeof ok<number>>,
    });
    const conn = await TestConnection.start(handler, { onError() {} });
    await conn.receive("x");
    assert.equal(conn.closeFrame?.code, 1011);
    const { reason } = await recording.terminated;
    assert.ok(reason.type === "error" && reason.error instanceof TypeError);
    assert.match((reason.error as Error).message, /Invalid result from handleIn/);
    assert.ok((reason.error as Error).message.includes(String(JSON.stringify(bad) ?? bad)));
  });
}

Deno.test("push() of an invalid message closes with 1011 and sends nothing of the list", async () => {
  const { handler, recording } = recorded({
    ...Echo,
    handleIn: (_d, s) => push(["fine", { type: "text", data: 5 } as never], s),
  });
  const conn = await TestConnection.start(handler, { onError() {} });
  await conn.receive("x");
  assert.equal(conn.closeFrame?.code, 1011);
  assert.deepEqual(conn.sent, []);
  const { reason } = await recording.terminated;
  assert.ok(reason.type === "error" && reason.error instanceof TypeError);
});

for (const frame of [ping(), pong(new Uint8Array([1]))]) {
  Deno.test(`push(${frame.type}()) on Deno closes with 1011: Deno cannot send control frames`, async () => {
    const { handler, recording } = recorded({ ...Echo, handleIn: (_d, s) => push(frame, s) });
    await using srv = serve(handler, { onError() {} });
    const client = await connect(srv.url);
    client.send("x");
    assert.equal((await client.closed).code, 1011);
    const { reason } = await recording.terminated;
    assert.ok(reason.type === "error" && reason.error instanceof TypeError);
    assert.match((reason.error as Error).message, /cannot send control frames/);
  });
}

Deno.test("handleIn never runs after the handler asked to stop", async () => {
  for (const async of [false, true]) {
    const seen: unknown[] = [];
    const conn = await TestConnection.start({
      ...Echo,
      handleIn(data, s) {
        seen.push(data);
        return async ? Promise.resolve(stop("normal", s)) : stop("normal", s);
      },
    });
    // All three arrive at once: the others wait behind an async handleIn.
    await Promise.all(["first", "second", "third"].map((m) => conn.receive(m)));
    assert.equal(conn.closeFrame?.code, 1000);
    assert.deepEqual(seen, ["first"], async ? "async" : "sync");
  }
});
