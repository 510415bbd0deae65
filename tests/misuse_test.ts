// What a new user gets wrong, and what they are told: class handlers work everywhere (their
// `this` included); a bad handler is a TypeError when it is handed over, on every adapter and
// in TestConnection, never a crash at the first connection; a misspelled or inapplicable
// option is a TypeError that says so (with the nearest known name), and values are quoted.

import assert from "node:assert/strict";
import { ok, push, stop, type TerminateReason, type WebSock } from "../mod.ts";
import { upgrade, websockHandler } from "../adapters/deno.ts";
import { serve, websockUpgrade } from "../adapters/node.ts";
import { websockServe } from "../adapters/bun.ts";
import { TestConnection } from "../testing/mod.ts";
import { checkOptionNames } from "../engine/mod.ts";
import { showValue } from "../engine/show_value.ts";

// A handler written as a class: state in the results, settings and a log on the instance.
class Counter implements WebSock<number> {
  readonly step: number;
  readonly ended: TerminateReason[] = [];
  constructor(step: number) {
    this.step = step;
  }
  init() {
    return push(`start ${this.step}`, 0);
  }
  handleIn(data: string | Uint8Array, count: number) {
    if (data === "bye") return stop("normal", count);
    const next = count + this.step;
    return push(String(next), next);
  }
  terminate(reason: TerminateReason) {
    this.ended.push(reason);
  }
}

const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

Deno.test("TestConnection.start() runs a class handler with its prototype methods and `this`", async () => {
  const counter = new Counter(5);
  const conn = await TestConnection.start(counter);
  await conn.receive("a");
  await conn.receive("b");
  await conn.receive("bye");
  assert.deepEqual(conn.errors, []);
  assert.deepEqual(conn.texts(), ["start 5", "5", "10"]);
  assert.deepEqual(conn.closeFrame, { code: 1000, reason: "" });
  assert.deepEqual(conn.terminateReason, { type: "normal", code: 1000, reason: "" });
  assert.deepEqual(counter.ended, [{ type: "normal", code: 1000, reason: "" }]);
});

Deno.test("websockHandler() serves a class handler over a real socket, `this` included", async () => {
  const counter = new Counter(3);
  const handler = websockHandler(counter);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  const texts: string[] = [];
  const closed = new Promise<void>((resolve) => client.onclose = () => resolve());
  client.onmessage = (event) => {
    texts.push(event.data);
    if (texts.length === 1) client.send("x");
    else client.send("bye");
  };
  await closed;
  await handler.shutdown();
  await server.shutdown();
  assert.deepEqual(texts, ["start 3", "3"]);
  assert.deepEqual(counter.ended, [{ type: "normal", code: 1000, reason: "" }]);
});

// Every function that takes a handler, called the way a user would.
const takers: [string, (handler: never) => unknown][] = [
  ["websockHandler()", (h) => websockHandler(h)],
  ["upgrade()", (h) => upgrade(new Request("http://x/"), h)],
  ["websockUpgrade()", (h) => websockUpgrade(h)],
  ["serve()", (h) => serve(h, { port: 0 })],
  ["websockServe()", (h) => websockServe(h)],
  ["TestConnection.start()", (h) => TestConnection.start(h)],
  ["TestConnection.open()", (h) => TestConnection.open(h)],
];

const BAD_HANDLERS: [string, unknown, string][] = [
  ["null", null, "null is not an object with init and handleIn"],
  ["a string", "Echo", '"Echo" is not an object with init and handleIn'],
  ["no init", { handleIn: () => ok(null) }, "init is missing"],
  ["no handleIn", { init: () => ok(null) }, "handleIn is missing"],
  ["handleInfo: 1", { ...Echo, handleInfo: 1 }, "handleInfo is 1, not a function"],
  ["terminate: 'x'", { ...Echo, terminate: "x" }, 'terminate is "x", not a function'],
  ["the class itself", Counter, "[class Counter] is a class, pass an instance (new Counter())"],
  ["an anonymous class", class {}, "[class] is a class, pass an instance of it"],
];

for (const [where, take] of takers) {
  Deno.test(`${where} throws a TypeError naming what is wrong with a bad handler`, async () => {
    for (const [what, handler, why] of BAD_HANDLERS) {
      await assert.rejects(
        async () => await take(handler as never),
        { name: "TypeError", message: `Invalid handler for ${where}: ${why}` },
        what,
      );
    }
  });
}

Deno.test("websockHandler() with a handler broken after the check: the connection ends 1011, the server lives", async () => {
  const handler: Record<string, unknown> = { ...Echo, terminate: () => {} };
  const errors: unknown[] = [];
  const serveIt = websockHandler(handler as never, { onError: (error) => errors.push(error) });
  handler.terminate = null; // not a function any more
  handler.init = 42;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, serveIt);
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  const code = await new Promise<number>((resolve) => client.onclose = (e) => resolve(e.code));
  await serveIt.shutdown();
  await server.shutdown();
  assert.equal(code, 1011);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof TypeError);
});

// Every function that takes options; `extra` are its own, beyond the shared ones.
const optionTakers: [string, (options: Record<string, unknown>) => unknown][] = [
  ["websockHandler()", (o) => websockHandler(Echo, o)],
  ["upgrade()", (o) => upgrade(new Request("http://x/"), Echo, undefined, o)],
  ["websockUpgrade()", (o) => websockUpgrade(Echo, o)],
  ["serve()", (o) => serve(Echo, o)],
  ["websockServe()", (o) => websockServe(Echo, o)],
  ["TestConnection.start()", (o) => TestConnection.start(Echo, o)],
  ["TestConnection.open()", (o) => TestConnection.open(Echo, o)],
];

for (const [where, take] of optionTakers) {
  Deno.test(`${where} refuses a misspelled option, suggesting the known one`, async () => {
    for (
      const [options, message] of [
        [{ timout: 1 }, 'Unknown option "timout": did you mean "timeout"?'],
        [{ maxMessageByte: 1 }, 'Unknown option "maxMessageByte": did you mean "maxMessageBytes"?'],
        [
          { maxbufferedbytes: 1 },
          'Unknown option "maxbufferedbytes": did you mean "maxBufferedBytes"?',
        ],
        [{ timeout: null }, "Invalid option timeout: null is not a number"],
        [{ timeout: "" }, 'Invalid option timeout: "" is not a number'],
        [{ maxQueuedEvents: "1" }, 'Invalid option maxQueuedEvents: "1" is not a number'],
      ] as const
    ) {
      await assert.rejects(async () => await take(options), { name: "TypeError", message });
    }
  });
}

Deno.test("the adapters refuse what they cannot honour, and take what they can", async () => {
  const deflate = /^Invalid option perMessageDeflate: Deno's WebSocket server cannot compress/;
  assert.throws(() => websockHandler(Echo, { perMessageDeflate: true } as never), {
    name: "TypeError",
    message: deflate,
  });
  assert.throws(
    () => upgrade(new Request("http://x/"), Echo, undefined, { perMessageDeflate: {} } as never),
    { name: "TypeError", message: deflate },
  );
  websockHandler(Echo, { perMessageDeflate: false } as never); // asks for nothing Deno lacks
  assert.throws(
    () => upgrade(new Request("http://x/"), Echo, undefined, { upgrade: () => 1 } as never),
    {
      name: "TypeError",
      message: /^Invalid option upgrade: upgrade\(\) takes init's argument itself/,
    },
  );
  assert.throws(() => websockUpgrade(Echo, { perMessageDeflate: "yes" as never }), {
    name: "TypeError",
    message: `Invalid option perMessageDeflate: "yes" is not a boolean or ws's options`,
  });
  assert.throws(() => websockServe(Echo, { perMessageDeflate: "yes" as never }), {
    name: "TypeError",
    message: `Invalid option perMessageDeflate: "yes" is not a boolean`,
  });
  assert.throws(() => websockUpgrade(Echo, { port: 1 } as never), {
    message: "Invalid option port: serve() listens, websockUpgrade() serves on your own server",
  });
  assert.throws(() => websockServe(Echo, { bunIdleTimeout: 30 } as never), {
    message:
      "Invalid option bunIdleTimeout: it was removed, the engine's timeout (ms) keeps peers alive",
  });
  assert.throws(() => websockHandler(Echo, 5 as never), {
    message: "Invalid options: 5 is not an object",
  });
  await (await TestConnection.start(Echo, { controlFrames: false, url: "ws://x/" })).close();
});

Deno.test("options shared by two adapters are checked by each", () => {
  const shared = { perMessageDeflate: true };
  websockUpgrade(Echo, shared); // Node compresses
  assert.throws(() => websockHandler(Echo, shared as never), {
    message: /^Invalid option perMessageDeflate: Deno's WebSocket server cannot compress/,
  });
});

Deno.test("checkOptionNames() lists the known names when none is near", () => {
  assert.throws(() => checkOptionNames({ zzzzzzzz: 1 }, ["timeout", "origins"]), {
    message: 'Unknown option "zzzzzzzz": expected one of timeout, origins',
  });
  checkOptionNames(undefined, []);
});

Deno.test("showValue() renders values as unambiguously as JSON and inspect do", () => {
  assert.equal(showValue(""), '""');
  assert.equal(showValue("10"), '"10"');
  assert.equal(showValue(null), "null");
  assert.equal(showValue(undefined), "undefined");
  assert.equal(showValue(1.5), "1.5");
  assert.equal(showValue(2n), "2n");
  assert.equal(showValue([2, 1]), "[2,1]");
  assert.equal(showValue({ a: [1, "b"] }), '{"a":[1,"b"]}');
  assert.equal(showValue([1, undefined]), "[ 1, undefined ]");
  assert.equal(showValue({ a: "b", "x-y": [], f() {} }), '{ a: "b", "x-y": [], f: [function f] }');
  assert.equal(showValue(new Map()), "[object Map]");
  assert.equal(showValue(function named() {}), "[function named]");
  assert.equal(showValue("x".repeat(100)).length, 80);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(showValue(cyclic), "{ self: { self: [Object] } }");
  assert.equal(showValue(NaN), "NaN");
});
