// Pub/sub's fastlane: subscriptions with `encode` get frames (one encode per publish, no
// handleInfo, in order with the connection's pushes), over Deno in-process and a real Bun
// process with Bun's native topics; publish() counts who got it and who did not.

import assert from "node:assert/strict";
import { type Connection, ok, push, type WebSock } from "../mod.ts";
import { TestConnection } from "../testing/mod.ts";
import { type Backend, PubSub } from "../pubsub/mod.ts";
import { type NativeState, offerNativeTopics } from "../engine/mod.ts";
import { Room } from "./fixtures/handlers.ts";
import { type Client, connect, serve } from "./_helpers.ts";
import { findBun, startChild } from "./_adapter_suite.ts";
import { Raw, upgradeRequest } from "../testing/_raw.ts";

const Quiet: WebSock<null, string, undefined> = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
  handleInfo: () => {
    throw new Error("handleInfo must not run for a fastlane subscription");
  },
};

Deno.test("PubSub.publish() encodes once per publish for every fastlane subscriber", async () => {
  const pubsub = new PubSub<{ n: number }>();
  let encodes = 0;
  const encode = (message: { n: number }) => (encodes++, JSON.stringify(message));
  const conns = await Promise.all([0, 1, 2].map(() => TestConnection.start(Quiet)));
  for (const conn of conns) pubsub.subscribe("t", conn.connection as never, { encode });
  assert.deepEqual(pubsub.publish("t", { n: 1 }), { delivered: 3, dropped: 0 });
  assert.equal(encodes, 1);
  for (const conn of conns) assert.deepEqual(conn.texts(), ['{"n":1}']);
  await pubsub.close();
});

Deno.test("PubSub.publish() serves mailbox and fastlane subscribers of one topic", async () => {
  const pubsub = new PubSub<string>();
  const Mail = { ...Quiet, handleInfo: (m: string, s: null) => push(`info:${m}`, s) };
  const mail = await TestConnection.start(Mail);
  const fast = await TestConnection.start(Mail);
  pubsub.subscribe("t", mail.connection);
  pubsub.subscribe("t", fast.connection, { encode: (m) => m.toUpperCase() });
  assert.deepEqual(pubsub.publish("t", "hi"), { delivered: 2, dropped: 0 });
  await mail.settle();
  assert.deepEqual(mail.texts(), ["info:hi"]);
  assert.deepEqual(fast.texts(), ["HI"]);
  // Subscribing again without encode moves it to the mailbox.
  pubsub.subscribe("t", fast.connection);
  assert.equal(pubsub.subscribers("t"), 2);
  assert.deepEqual(pubsub.publish("t", "again"), { delivered: 2, dropped: 0 });
  await fast.settle();
  assert.deepEqual(fast.texts(), ["HI", "info:again"]);
  await pubsub.close();
});

Deno.test("PubSub.publish() counts closed, queue-full and slow subscribers as dropped", async () => {
  const errors: unknown[] = [];
  const pubsub = new PubSub<string>({ onError: (e) => errors.push(e) });
  const Slow: WebSock<null, string, undefined> = {
    ...Quiet,
    handleIn: (data, state) => new Promise((r) => setTimeout(() => r(push(data, state)), 20)),
  };
  const ok1 = await TestConnection.start(Quiet);
  const closed = await TestConnection.start(Quiet);
  const full = await TestConnection.start(Slow, { maxQueuedEvents: 1 });
  const slow = await TestConnection.start(Quiet, { maxBufferedBytes: 1 });
  for (const conn of [ok1, closed, full, slow]) {
    pubsub.subscribe("t", conn.connection, { encode: String });
  }
  pubsub.subscribe("t", { send: () => true, sendFrame: () => true, closed: false });
  const busy = full.receive("busy");
  assert.deepEqual(pubsub.publish("t", "1"), { delivered: 5, dropped: 0 }); // queued behind
  closed.connection.onClose(() => {});
  await closed.close(1000, "");
  slow.setBufferedAmount(1000);
  // closed: gone; full: its queue holds one event (1013); slow: over maxBufferedBytes (1008).
  assert.deepEqual(pubsub.publish("t", "2"), { delivered: 2, dropped: 2 });
  await busy;
  assert.equal(full.closeFrame?.code, 1013);
  assert.equal(slow.closeFrame?.code, 1008);
  assert.equal(pubsub.subscribers("t"), 2);
  assert.deepEqual(ok1.texts(), ["1", "2"]);
  assert.deepEqual(errors, []);
  await pubsub.close();
});

Deno.test("PubSub reports a failing encode, counts it dropped and keeps the subscriber", async () => {
  const errors: unknown[] = [];
  const pubsub = new PubSub<string>({ onError: (e) => errors.push(e) });
  const conn = await TestConnection.start(Quiet);
  let calls = 0;
  pubsub.subscribe("t", conn.connection, {
    encode: (m) => {
      calls++;
      if (m === "bad") throw new Error("cannot encode");
      return m === "odd" ? 42 as never : m;
    },
  });
  pubsub.subscribe("t", { send: () => true, sendFrame: () => true }, { encode: String });
  assert.deepEqual(pubsub.publish("t", "bad"), { delivered: 1, dropped: 1 });
  assert.deepEqual(pubsub.publish("t", "odd"), { delivered: 1, dropped: 1 });
  assert.deepEqual(pubsub.publish("t", "fine"), { delivered: 2, dropped: 0 });
  assert.equal(calls, 3);
  assert.equal((errors[0] as Error).message, "cannot encode");
  assert.match((errors[1] as Error).message, /encode returned 42, not a string or a Uint8Array/);
  assert.equal(pubsub.subscribers("t"), 2);
  assert.deepEqual(conn.texts(), ["fine"]);
  await pubsub.close();
});

Deno.test("PubSub.subscribe() rejects a bad encode and a subscriber without sendFrame", async () => {
  const pubsub = new PubSub<string>();
  assert.throws(() => pubsub.subscribe("t", { send: () => true }, { encode: String }), {
    name: "TypeError",
    message:
      "Cannot subscribe to t with encode: subscriber { send: [function send] } has no sendFrame() (pass a connection)",
  });
  assert.throws(
    () =>
      pubsub.subscribe("t", { send: () => true, sendFrame: () => true }, { encode: 1 as never }),
    { name: "TypeError", message: "Invalid option encode: 1 is not a function" },
  );
  await pubsub.close();
});

Deno.test("PubSub delivers a backend's messages to fastlane subscribers as frames", async () => {
  let deliver: (topic: string, message: unknown) => void = () => {};
  const backend: Backend = {
    start: (d) => void (deliver = d),
    subscribe() {},
    unsubscribe() {},
    publish() {},
    close() {},
  };
  const pubsub = new PubSub<{ n: number }>({ backend });
  const conn = await TestConnection.start(Quiet);
  await pubsub.subscribe("t", conn.connection as never, { encode: JSON.stringify });
  deliver("t", { n: 7 });
  assert.deepEqual(conn.texts(), ['{"n":7}']);
  await pubsub.close();
});

// A fake native hub over TestConnections: what an adapter with native topics offers.
Deno.test("PubSub uses native topics: one hub publish for ready subscribers, the engine for busy and full ones", async () => {
  const published: [string, string | Uint8Array][] = [];
  const hub = {
    publish: (topic: string, data: string | Uint8Array) => published.push([topic, data]),
  };
  const subscribed = new Map<TestConnection<null, string, undefined>, Set<string>>();
  const states = new Map<TestConnection<null, string, undefined>, NativeState>();
  const Slow: WebSock<null, string, undefined> = {
    ...Quiet,
    handleIn: (data, state) => new Promise((r) => setTimeout(() => r(push(data, state)), 20)),
  };
  const conns = await Promise.all([0, 1, 2, 3].map(() => TestConnection.start(Slow)));
  for (const conn of conns) {
    subscribed.set(conn, new Set());
    offerNativeTopics(conn.connection as Connection<unknown>, {
      hub,
      subscribe: (t) => void subscribed.get(conn)!.add(t),
      unsubscribe: (t) => void subscribed.get(conn)!.delete(t),
      state: () => states.get(conn) ?? "ready",
    });
  }
  const pubsub = new PubSub<string>();
  const encode = (m: string) => `<${m}>`; // one function for all: one group, one encode
  for (const conn of conns) pubsub.subscribe("t", conn.connection, { encode });
  const [name] = subscribed.get(conns[0])!;
  assert.match(name, /\/t$/);
  const busy = conns[1].receive("first");
  states.set(conns[1], "busy");
  states.set(conns[2], "full");
  states.set(conns[3], "closed");
  await conns[3].close(1000, "");
  assert.deepEqual(pubsub.publish("t", "x"), { delivered: 3, dropped: 0 });
  assert.deepEqual(published, [[name, "<x>"]]);
  assert.deepEqual(conns[0].texts(), [], "the hub sends, not the engine");
  assert.equal(subscribed.get(conns[1])!.has(name), true, "subscribed again after the publish");
  // Full (more than maxBufferedBytes wait): the engine's slow-peer rule decides, not the hub;
  // this peer has taken nothing since the engine's last look, so the frame goes out.
  assert.deepEqual(conns[2].texts(), ["<x>"]);
  assert.equal(subscribed.get(conns[2])!.has(name), true, "subscribed again after the publish");
  await busy;
  await conns[1].settle();
  assert.deepEqual(conns[1].texts(), ["first", "<x>"]);
  assert.equal(pubsub.subscribers("t"), 3);
  pubsub.unsubscribe("t", conns[0].connection);
  assert.equal(subscribed.get(conns[0])!.size, 0);
  await pubsub.close();
  assert.equal(subscribed.get(conns[2])!.size, 0, "close() leaves the native topics");
});

// The order and counts a client sees, on any adapter serving the Room fixture.
async function roomChecks(url: string, publishes?: () => Promise<number>): Promise<void> {
  const open = async (query: string): Promise<Client> => {
    const client = await connect(`${url}?${query}`);
    assert.equal(await client.next(), "joined");
    return client;
  };
  const a = await open("lane=frame"), b = await open("lane=frame"), mail = await open("lane=mail");
  try {
    b.socket.send("publish:one");
    // The publisher is busy in handleIn: its frame comes after its own push.
    assert.deepEqual(await b.take(2), ['result:{"delivered":3,"dropped":0}', '"one"']);
    assert.equal(await a.next(), '"one"');
    assert.equal(await mail.next(), "info:one");
    a.socket.send("slow"); // busy until b publishes
    assert.equal(await b.next(), '"started"');
    b.socket.send("publish:two");
    assert.deepEqual(await b.take(2), ['result:{"delivered":3,"dropped":0}', '"two"']);
    // Published while a's handleIn ran: after its push, never before.
    assert.deepEqual(await a.take(3), ["reply", '"started"', '"two"']);
    assert.deepEqual(await mail.take(2), ["info:started", "info:two"]);
    mail.socket.send("publish:three");
    assert.equal(await a.next(), '"three"');
    assert.equal(await b.next(), '"three"');
    assert.deepEqual(await mail.take(2), ['result:{"delivered":3,"dropped":0}', "info:three"]);
    if (publishes) assert.ok(await publishes() >= 3, "Bun's server.publish was used");
  } finally {
    for (const client of [a, b, mail]) await client[Symbol.asyncDispose]();
  }
}

Deno.test("the fastlane keeps each connection's order over real Deno sockets", async () => {
  await using srv = serve(Room);
  await roomChecks(srv.url);
});

const bun = await findBun();

// A Deno.test against the room fixture under real Bun, with these adapter options.
function bunRoomTest(name: string, options: object, fn: (port: number) => Promise<void>): void {
  Deno.test({
    name,
    ignore: bun === undefined,
    async fn() {
      const root = new URL("..", import.meta.url).pathname;
      const server = await startChild(bun!, [
        `${root}tests/fixtures/bun_server.ts`,
        "--handler",
        "room",
        "--options",
        JSON.stringify(options),
      ]);
      try {
        await fn(server.port);
      } finally {
        await server.close();
      }
    },
  });
}

// How many times the Bun fixture called server.publish.
async function bunPublishes(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/publishes`);
  return Number(await response.text());
}

// Send one command from a connection that is not subscribed; returns its answer.
async function command(port: number, text: string): Promise<string> {
  const publisher = await connect(`ws://127.0.0.1:${port}/?lane=none`);
  try {
    assert.equal(await publisher.next(), "joined");
    publisher.socket.send(text);
    return String(await publisher.next());
  } finally {
    await publisher[Symbol.asyncDispose]();
  }
}

bunRoomTest(
  "the fastlane uses Bun's native topics under real Bun, in order and counted",
  {},
  (port) => roomChecks(`ws://127.0.0.1:${port}/`, () => bunPublishes(port)),
);

bunRoomTest(
  "telemetry counts the frames Bun publishes natively as sent, like the engine's",
  { metrics: true },
  async (port) => {
    const a = await connect(`ws://127.0.0.1:${port}/?lane=frame`);
    const b = await connect(`ws://127.0.0.1:${port}/?lane=frame`);
    try {
      assert.equal(await a.next(), "joined");
      assert.equal(await b.next(), "joined");
      // The publisher gets "joined", then the result.
      assert.equal(await command(port, "publish:x"), 'result:{"delivered":2,"dropped":0}');
      assert.equal(await bunPublishes(port), 1, "through Bun's server.publish");
      assert.equal(await a.next(), '"x"');
      assert.equal(await b.next(), '"x"');
    } finally {
      await a[Symbol.asyncDispose]();
      await b[Symbol.asyncDispose]();
    }
    const snapshot = await (await fetch(`http://127.0.0.1:${port}/metrics.json`)).json();
    // 3 × "joined" and the result through the engine, 2 × '"x"' through server.publish.
    assert.equal(snapshot.sent.text.messages, 6);
    const result = 'result:{"delivered":2,"dropped":0}'.length;
    assert.equal(snapshot.sent.text.bytes, 3 * "joined".length + result + 2 * '"x"'.length);
  },
);

bunRoomTest(
  "a native-topic subscriber that does not read is closed with 1008 under real Bun, in bounded memory",
  { maxBufferedBytes: 256 * 1024 },
  async (port) => {
    // A fastlane subscriber (a native topic on Bun) that never reads while 25 MiB go out.
    using quiet = await Raw.connect(port);
    await quiet.write(upgradeRequest({ Host: `127.0.0.1:${port}` }));
    assert.equal((await quiet.response()).status, 101);
    assert.equal(await command(port, "flood:400:65536"), "flooded");
    // Over maxBufferedBytes the frames go through the engine, whose slow-peer rule closes.
    let bytes = 0;
    for (;;) {
      const frame = await quiet.readFrame(5000);
      assert.ok(frame !== null, `no close frame after ${bytes} bytes`);
      if (frame.opcode === 8) {
        assert.equal((frame.payload[0] << 8) | frame.payload[1], 1008);
        break;
      }
      bytes += frame.payload.byteLength;
    }
    assert.ok(bytes < 16 * 1024 * 1024, `${bytes} bytes reached the peer before the close`);
  },
);

bunRoomTest(
  "native-topic frames are compressed with perMessageDeflate under real Bun, like the engine's",
  { perMessageDeflate: true },
  async (port) => {
    using raw = await Raw.connect(port);
    await raw.write(upgradeRequest({
      Host: `127.0.0.1:${port}`,
      "Sec-WebSocket-Extensions": "permessage-deflate",
    }));
    const response = await raw.response();
    assert.match(response.headers.get("sec-websocket-extensions") ?? "", /permessage-deflate/);
    assert.equal((await raw.readFrame(5000))?.rsv1, false, '"joined" is under 1 KiB');
    assert.match(await command(port, `publish:${"compressible ".repeat(1365)}`), /^result:/);
    assert.equal(await bunPublishes(port), 1, "through Bun's server.publish");
    const frame = await raw.readFrame(5000);
    assert.ok(frame?.rsv1, "the published frame is compressed");
    assert.ok(frame.payload.byteLength < 1024, `${frame.payload.byteLength} bytes on the wire`);
  },
);
