// The official `phoenix` client (npm 1.8, with Deno's global WebSocket) against channels()
// on the Deno adapter: connect with params and token, joins, refusals, pushes with replies
// and timeouts, broadcasts, leave, heartbeats, a server restart, a crashed channel.

import assert from "node:assert/strict";
import { websockHandler } from "../adapters/deno.ts";
import type { Channels } from "../channels/mod.ts";
import { channelsApp, type User } from "./fixtures/channels_app.ts";
import { disconnect, nextEvent, outcome, phoenixSocket, type Socket, until } from "./_phoenix.ts";

interface Server extends AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly app: Channels<User>;
  readonly joins: string[];
  readonly ends: string[];
  stop(): Promise<void>;
}

function start(port = 0, app?: Channels<User>): Server {
  const joins: string[] = [], ends: string[] = [];
  app ??= channelsApp({
    onJoin: (topic) => joins.push(topic),
    onTerminate: (topic, type) => ends.push(`${topic} ${type}`),
  });
  const handler = websockHandler(app, app.adapterOptions);
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await handler.shutdown();
    await server.shutdown();
  };
  return {
    port: server.addr.port,
    url: `ws://127.0.0.1:${server.addr.port}/socket`,
    app,
    joins,
    ends,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const ref = socket.onOpen(() => {
      socket.off([ref]);
      resolve();
    });
    socket.connect();
  });
}

const auth = (user: string) => ({ params: { user }, authToken: "good-token" });

Deno.test("phoenix client: connects with params and token, joins with a reply, pushes, leaves", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, auth("ann"));
  await connected(socket);
  const room = socket.channel("room:lobby", { hello: 1 });
  assert.deepEqual(await outcome(room.join()), {
    status: "ok",
    response: { user: "ann", topic: "room:lobby" },
  });
  assert.deepEqual(await outcome(room.push("ping", { n: 1 })), {
    status: "ok",
    response: { pong: { n: 1 }, user: "ann" },
  });
  assert.deepEqual(await outcome(room.push("count", {})), { status: "ok", response: { count: 1 } });
  assert.deepEqual(await outcome(room.push("count", {})), { status: "ok", response: { count: 2 } });
  assert.equal((await outcome(room.leave())).status, "ok");
  await until(() => server.ends.includes("room:lobby leave"), "the channel's terminate");
  await disconnect(socket);
});

Deno.test("phoenix client: a wrong token is refused before the upgrade (403)", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, { params: { user: "eve" }, authToken: "bad" });
  let errors = 0;
  socket.onError(() => errors++);
  let opened = false;
  socket.onOpen(() => opened = true);
  socket.connect();
  await until(() => errors > 0, "the refused connection");
  await disconnect(socket);
  assert.equal(opened, false);
  const response = await fetch(`http://127.0.0.1:${server.port}/socket/websocket?vsn=2.0.0`, {
    headers: {
      upgrade: "websocket",
      connection: "upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": `phoenix, base64url.bearer.phx.${btoa("bad").replace(/=/g, "")}`,
    },
  });
  assert.equal(response.status, 403);
  await response.body?.cancel();
});

Deno.test("phoenix client: a refused join gets the error reply", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, auth("bob"));
  await connected(socket);
  const room = socket.channel("room:private");
  assert.deepEqual(await outcome(room.join()), {
    status: "error",
    response: { reason: "private room" },
  });
  room.leave();
  await disconnect(socket);
});

Deno.test("phoenix client: a push without a reply times out; a slow one is answered", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, auth("cy"));
  await connected(socket);
  const room = socket.channel("room:t");
  await outcome(room.join());
  assert.equal((await outcome(room.push("silent", {}, 100))).status, "timeout");
  assert.deepEqual(await outcome(room.push("slow", { ms: 20 })), {
    status: "ok",
    response: { slow: true },
  });
  await disconnect(socket);
});

Deno.test("phoenix client: a broadcast reaches every client joined; broadcastFrom skips the sender", async () => {
  await using server = start();
  const sockets = Array.from({ length: 5 }, (_, i) => phoenixSocket(server.url, auth(`u${i}`)));
  await Promise.all(sockets.map(connected));
  const rooms = sockets.map((s) => s.channel("room:many"));
  for (const room of rooms) assert.equal((await outcome(room.join())).status, "ok");
  const shouts = rooms.map((room) => nextEvent(room, "shout"));
  assert.equal((await outcome(rooms[0].push("shout", { text: "hi" }))).status, "ok");
  for (const payload of await Promise.all(shouts)) {
    assert.deepEqual(payload, { from: "u0", text: "hi" });
  }
  let senderGot = false;
  rooms[0].on("others", () => senderGot = true);
  const others = rooms.slice(1).map((room) => nextEvent(room, "others"));
  assert.equal((await outcome(rooms[0].push("others", { text: "yo" }))).status, "ok");
  for (const payload of await Promise.all(others)) {
    assert.deepEqual(payload, { from: "u0", text: "yo" });
  }
  // A ping round trip after the broadcast: anything for the sender would have arrived first.
  await outcome(rooms[0].push("ping", {}));
  assert.equal(senderGot, false);
  const fromServer = rooms.map((room) => nextEvent(room, "from-server"));
  server.app.broadcast("room:many", "from-server", { n: 1 });
  assert.deepEqual(await Promise.all(fromServer), rooms.map(() => ({ n: 1 })));
  await Promise.all(sockets.map(disconnect));
});

Deno.test("phoenix client: heartbeats are answered and keep the socket past the server's heartbeat timeout", async () => {
  const ends: string[] = [];
  const app = channelsApp({
    onTerminate: (topic, _type, end) =>
      ends.push(`${topic} ${end.type === "closed" ? JSON.stringify(end.reason) : end.type}`),
  }, { heartbeatTimeout: 150 });
  await using server = start(0, app);
  const socket = phoenixSocket(server.url, { ...auth("hb"), heartbeatIntervalMs: 50 });
  const replies: string[] = [];
  socket.onMessage((message: { topic: string; event: string; payload: { status: string } }) => {
    if (message.topic === "phoenix") replies.push(`${message.event} ${message.payload.status}`);
  });
  await connected(socket);
  const room = socket.channel("room:hb");
  await outcome(room.join());
  // Ten heartbeats take longer than the server's timeout: the server never closed the socket
  // for it (a reconnect of the client's own, on a slow machine, would not end as an error).
  await until(() => replies.length >= 10, "ten heartbeat replies");
  assert.deepEqual(new Set(replies), new Set(["phx_reply ok"]));
  assert.deepEqual(ends.filter((e) => e.includes("heartbeat")), []);
  await disconnect(socket);
  await until(() => ends.length > 0, "the channel's end");
  assert.match(ends.at(-1)!, /"type":"remote","code":1000/);
});

Deno.test("phoenix client: after a server restart the client reconnects and rejoins by itself", async () => {
  const first = start();
  const port = first.port;
  const socket = phoenixSocket(first.url, auth("re"));
  await connected(socket);
  const room = socket.channel("room:r");
  assert.equal((await outcome(room.join())).status, "ok");
  assert.deepEqual(await outcome(room.push("count", {})), { status: "ok", response: { count: 1 } });
  await first.stop();
  assert.deepEqual(first.ends, ["room:r closed"]);
  await using second = start(port);
  await until(() => second.joins.includes("room:r"), "the rejoin on the new server");
  await until(() => room.state === "joined", "the channel joined again");
  // A fresh channel process on the new server: its state starts again.
  assert.deepEqual(await outcome(room.push("count", {})), { status: "ok", response: { count: 1 } });
  await disconnect(socket);
});

Deno.test("phoenix client: a crashed channel is rejoined by the client; the socket's other channels go on", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, auth("cr"));
  await connected(socket);
  const room = socket.channel("room:c");
  const counter = socket.channel("counter:c");
  assert.equal((await outcome(room.join())).status, "ok");
  assert.equal((await outcome(counter.join())).status, "ok");
  assert.deepEqual(await outcome(counter.push("inc", {})), {
    status: "ok",
    response: { count: 1 },
  });
  let errored = 0;
  room.onError(() => errored++);
  // No reply to a push that crashed the channel (as Phoenix): it times out on the client.
  const crash = outcome(room.push("crash", {}, 200));
  await until(() => errored === 1, "the channel's phx_error");
  await until(() => server.joins.filter((t) => t === "room:c").length === 2, "the rejoin");
  await until(() => room.state === "joined", "the channel joined again");
  assert.deepEqual(server.ends, ["room:c error"]);
  assert.deepEqual(await outcome(counter.push("inc", {})), {
    status: "ok",
    response: { count: 2 },
  });
  assert.deepEqual(await outcome(room.push("count", {})), { status: "ok", response: { count: 1 } });
  assert.equal(socket.isConnected(), true);
  assert.equal((await crash).status, "timeout");
  await disconnect(socket);
});

Deno.test("phoenix client: app.disconnect(id) closes the user's sockets with 1000 (phoenix 1.8 then reconnects)", async () => {
  await using server = start();
  const socket = phoenixSocket(server.url, auth("dd"));
  let opens = 0;
  const closes: number[] = [];
  socket.onOpen(() => opens++);
  socket.onClose((event: CloseEvent) => closes.push(event.code));
  await connected(socket);
  const room = socket.channel("room:dd");
  assert.equal((await outcome(room.join())).status, "ok");
  assert.deepEqual(server.app.disconnect("user:dd"), { delivered: 1, dropped: 0 });
  await until(() => closes.length === 1, "the close");
  assert.deepEqual(closes, [1000]);
  await until(() => server.ends.includes("room:dd closed"), "the channel's end");
  // phoenix 1.8 reconnects after any close it did not ask for: to keep a user out, its
  // connect hook must refuse it from now on (revoke the token first).
  await until(() => opens === 2 && room.state === "joined", "the client's own reconnect");
  await disconnect(socket);
});
