// channels(): broadcasts over pub/sub (one encode per publish), broadcastFrom, intercept,
// mail through pub/sub topics, and the connect hook (params, token, assigns, refusal).

import assert from "node:assert/strict";
import {
  type Broadcast,
  type Channel,
  channels,
  type ChannelSocket,
  joined,
  noreply,
  reply,
} from "../channels/mod.ts";
import { PubSub } from "../pubsub/mod.ts";
import { Client, replyOf } from "./_channels.ts";

type S = { socket: ChannelSocket<unknown, unknown> };

const Room = {
  join: (_topic, _payload, socket) => joined({ socket }),
  handleIn(event, payload, state) {
    if (event === "shout") state.socket.broadcast("shout", payload);
    if (event === "others") state.socket.broadcastFrom("others", payload);
    return noreply(state);
  },
  handleInfo(message, state) {
    state.socket.push("mail", message);
    return noreply(state);
  },
} satisfies Channel<S, unknown>;

Deno.test("channels().broadcast reaches every channel joined to the topic, encoded once", async () => {
  const app = channels({ "room:*": Room });
  const clients = await Promise.all(Array.from({ length: 5 }, () => Client.start(app)));
  for (const c of clients) await c.join("room:1");
  const other = await Client.start(app);
  await other.join("room:2");
  for (const c of [...clients, other]) c.take();
  let encodes = 0;
  const payload = {
    toJSON() {
      encodes++;
      return { body: "hi" };
    },
  };
  assert.deepEqual(app.broadcast("room:1", "news", payload), { delivered: 5, dropped: 0 });
  assert.equal(encodes, 1);
  for (const c of clients) {
    assert.deepEqual(c.take(), [
      { joinRef: null, ref: null, topic: "room:1", event: "news", payload: { body: "hi" } },
    ]);
  }
  assert.deepEqual(other.take(), []);
  for (const c of [...clients, other]) await c.conn.close(1000);
  assert.equal(app.pubsub.subscribers("room:1"), 0);
});

Deno.test("channels(): socket.broadcast includes the sender, broadcastFrom skips it", async () => {
  const app = channels({ "room:*": Room });
  const a = await Client.start(app), b = await Client.start(app);
  const ja = await a.join("room:1");
  await b.join("room:1");
  a.take(), b.take();
  await a.push("room:1", "shout", { n: 1 }, ja);
  await a.push("room:1", "others", { n: 2 }, ja);
  const shout = { joinRef: null, ref: null, topic: "room:1", event: "shout", payload: { n: 1 } };
  const others = { ...shout, event: "others", payload: { n: 2 } };
  assert.deepEqual(a.take(), [shout]);
  assert.deepEqual(b.take(), [shout, others]);
  await a.conn.close(1000), await b.conn.close(1000);
});

Deno.test("channels(): a channel that leaves gets no more broadcasts", async () => {
  const app = channels({ "room:*": Room });
  const a = await Client.start(app);
  const j = await a.join("room:1");
  await a.push("room:1", "phx_leave", {}, j);
  a.take();
  assert.deepEqual(app.broadcast("room:1", "late", {}), { delivered: 0, dropped: 0 });
  assert.deepEqual(a.take(), []);
  await a.conn.close(1000);
});

Deno.test("channels(): intercepted events go through handleOut, which may change or drop them", async () => {
  const Filtered = {
    intercept: ["secret", "loud"],
    join: (_topic, _payload, socket) => joined({ socket }),
    handleOut(event, payload, state) {
      if (event === "loud") {
        state.socket.push(event, {
          text: String((payload as { text: string }).text).toUpperCase(),
        });
      }
      return noreply(state);
    },
  } satisfies Channel<S>;
  const app = channels({ "f": Filtered, "plain": Room });
  const f = await Client.start(app);
  await f.join("f");
  f.take();
  app.broadcast("f", "secret", { text: "x" });
  app.broadcast("f", "loud", { text: "hey" });
  app.broadcast("f", "open", { text: "as is" });
  await f.conn.settle();
  assert.deepEqual(f.take().map((m) => [m.event, m.payload]), [
    ["loud", { text: "HEY" }],
    ["open", { text: "as is" }],
  ]);
  await f.conn.close(1000);
});

Deno.test("channels(): a ChannelSocket subscribes to other pub/sub topics as a mailbox", async () => {
  const news = new PubSub<string>();
  const Reader = {
    join(_topic, _payload, socket) {
      news.subscribe("news", socket);
      return joined({ socket });
    },
    handleInfo(message, state) {
      state.socket.push("news", { message });
      return noreply(state);
    },
  } satisfies Channel<S, string>;
  const client = await Client.start(channels({ "r": Reader }));
  const j = await client.join("r");
  client.take();
  news.publish("news", "extra");
  await client.conn.settle();
  assert.deepEqual(client.take(), [
    { joinRef: j, ref: null, topic: "r", event: "news", payload: { message: "extra" } },
  ]);
  await client.push("r", "phx_leave", {}, j);
  assert.equal(news.subscribers("news"), 0);
  await client.conn.close(1000);
  await news.close();
});

Deno.test("channels() broadcasts through the PubSub it is given", async () => {
  const pubsub = new PubSub<Broadcast>();
  const app = channels({ "room:*": Room }, { pubsub });
  const a = await Client.start(app);
  await a.join("room:1");
  a.take();
  pubsub.publish("room:1", { topic: "room:1", event: "from-outside", payload: [1] });
  assert.deepEqual(a.take(), [
    { joinRef: null, ref: null, topic: "room:1", event: "from-outside", payload: [1] },
  ]);
  await a.conn.close(1000);
  await pubsub.close();
});

type User = { id: string; token: string | null };

const Whoami = {
  join: (_topic, _payload, socket) =>
    joined({ socket }, { user: socket.assigns, params: socket.params }),
  handleIn: (_event, _payload, state) => reply("ok", {}, state),
} satisfies Channel<{ socket: ChannelSocket<never, User> }, never, User>;

function connectApp() {
  return channels<User>({ "me": Whoami }, {
    connect(params, { token }) {
      if (token !== "s3cret") return new Response("Forbidden", { status: 403 });
      return { id: params.user, token };
    },
  });
}

function request(query: string, protocols?: string): Request {
  const headers = protocols === undefined ? undefined : { "sec-websocket-protocol": protocols };
  return new Request(`http://localhost/socket/websocket?${query}`, { headers });
}

const TOKEN = `base64url.bearer.phx.${btoa("s3cret").replace(/=/g, "")}`;

Deno.test("channels().upgrade gives the connect hook the params and the phoenix client's token", async () => {
  const app = connectApp();
  const arg = await app.upgrade(request("user=42&vsn=2.0.0", `phoenix, ${TOKEN}`));
  assert.ok(!(arg instanceof Response));
  assert.deepEqual(arg, {
    params: { user: "42" },
    vsn: "2.0.0",
    assigns: { id: "42", token: "s3cret" },
  });
  const client = await Client.start(app, { arg });
  const j = await client.join("me");
  assert.deepEqual(client.take(), [
    replyOf(j, j, "me", "ok", { user: { id: "42", token: "s3cret" }, params: { user: "42" } }),
  ]);
  assert.deepEqual(client.conn.state?.assigns, { id: "42", token: "s3cret" });
  await client.conn.close(1000);
});

Deno.test("channels().upgrade refuses with the connect hook's Response, and an unknown vsn with 400", async () => {
  const app = connectApp();
  const refused = await app.upgrade(
    request("user=1", `phoenix, base64url.bearer.phx.${btoa("wrong")}`),
  );
  assert.ok(refused instanceof Response);
  assert.equal(refused.status, 403);
  await refused.body?.cancel();
  const none = await app.upgrade(request("user=1"));
  assert.equal((none as Response).status, 403);
  await (none as Response).body?.cancel();
  const old = await app.upgrade(request("vsn=1.0.0", `phoenix, ${TOKEN}`));
  assert.equal((old as Response).status, 400);
  assert.match(await (old as Response).text(), /Unsupported vsn 1\.0\.0/);
});

Deno.test("channels().upgrade throws when the adapter did not negotiate the phoenix subprotocol", () => {
  const app = connectApp();
  const info = { url: "ws://x/", headers: new Headers(), remoteAddr: null, protocol: "" };
  assert.throws(
    () => app.upgrade(request("user=1", `phoenix, ${TOKEN}`), info),
    /did not negotiate the "phoenix" subprotocol/,
  );
});

Deno.test("channels() with a connect hook closes a socket whose hook did not run (1011)", async () => {
  const errors: string[] = [];
  const app = channels<User>({ "me": Whoami }, {
    connect: () => ({ id: "x", token: null }),
    onError: (error, { source }) => errors.push(`${source}: ${(error as Error).message}`),
  });
  const client = await Client.start(app);
  assert.deepEqual(client.conn.closeFrame, { code: 1011, reason: "Connect hook did not run" });
  assert.deepEqual(errors, [
    "connect: Cannot open a socket: the connect hook did not run (pass app.adapterOptions)",
  ]);
  assert.equal(client.conn.terminateReason?.type, "error");
});

Deno.test("channels() without a connect hook takes the params from the URL", async () => {
  const app = channels({ "me": Whoami as unknown as Channel<unknown> });
  const client = await Client.start(app, { url: "ws://x/socket/websocket?vsn=2.0.0&a=1&b=two" });
  const j = await client.join("me");
  assert.deepEqual(client.take(), [replyOf(j, j, "me", "ok", { params: { a: "1", b: "two" } })]);
  await client.conn.close(1000);
});

Deno.test("channels().disconnect closes every socket with that id (1000), the others go on", async () => {
  const errors: string[] = [];
  const app = channels<User>({ "me": Whoami }, {
    connect: (params) => ({ id: params.user, token: null }),
    id: (assigns) =>
      assigns.id === "none"
        ? null
        : assigns.id === "bad"
        ? (42 as never)
        : assigns.id === "empty"
        ? ""
        : `user:${assigns.id}`,
    onError: (error) => errors.push((error as Error).message),
  });
  const start = async (user: string) =>
    Client.start(app, { arg: await app.upgrade(request(`user=${user}`)) as never });
  const [a1, a2, b, none] = await Promise.all(["1", "1", "2", "none"].map(start));
  assert.equal(a1.conn.state?.id, "user:1");
  assert.equal(none.conn.state?.id, null);
  await a1.join("me");
  assert.deepEqual(app.disconnect("user:1"), { delivered: 2, dropped: 0 });
  await a1.conn.settle(), await a2.conn.settle(), await b.conn.settle();
  assert.deepEqual(a1.conn.closeFrame, { code: 1000, reason: "Disconnected" });
  assert.deepEqual(a2.conn.closeFrame, { code: 1000, reason: "Disconnected" });
  assert.equal(b.conn.closeFrame, null);
  assert.equal(app.pubsub.subscribers("user:1"), 0);
  const bad = await start("bad");
  assert.deepEqual(bad.conn.closeFrame, { code: 1011, reason: "Invalid socket id" });
  assert.deepEqual(errors, ["Invalid socket id: 42 is not a non-empty string"]);
  const empty = await start("empty");
  assert.deepEqual(empty.conn.closeFrame, { code: 1011, reason: "Invalid socket id" });
  assert.equal(errors[1], 'Invalid socket id: "" is not a non-empty string');
  await b.conn.close(1000), await none.conn.close(1000);
  assert.equal(app.pubsub.topics().length, 0);
});
