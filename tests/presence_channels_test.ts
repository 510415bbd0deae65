// Presence over channels, with the real `phoenix` client's Presence (npm 1.8, Deno's
// WebSocket) on the Deno adapter: presence_state after join, presence_diff on change, a user
// with two tabs listed once with two metas, an update, a leave, a closed socket untracked at
// once; two nodes over a BroadcastChannel backend.

import assert from "node:assert/strict";
import { websockHandler } from "../adapters/deno.ts";
import type { Broadcast } from "../channels/mod.ts";
import { BroadcastChannelBackend, PubSub } from "../pubsub/mod.ts";
import type { PresenceOptions } from "../presence/mod.ts";
import { presenceApp } from "./fixtures/presence_app.ts";
import { disconnect, outcome } from "./_phoenix.ts";
import { client, tabs } from "./_presence_client.ts";
import { until } from "./_helpers.ts";

function serve(pubsub: PubSub<Broadcast>, node: string, options: PresenceOptions = {}) {
  const { app, presence } = presenceApp(pubsub, { node, ...options });
  const handler = websockHandler(app, app.adapterOptions);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `ws://127.0.0.1:${server.addr.port}/socket`,
    presence,
    async [Symbol.asyncDispose]() {
      await handler.shutdown();
      await server.shutdown();
      await presence.close();
      await pubsub.close();
    },
  };
}

Deno.test("Presence over channels: the phoenix client's Presence sees joins, tabs once, updates, leaves and closed sockets", async () => {
  await using server = serve(new PubSub<Broadcast>(), "one");
  const alice1 = await client(server.url, "alice", "a1");
  const alice2 = await client(server.url, "alice", "a2");
  const bob = await client(server.url, "bob", "b1");
  const everyone = [alice1, alice2, bob];
  const expect = (want: Record<string, string[]>, what: string) =>
    until(
      () => everyone.every((c) => JSON.stringify(tabs(c.seen.list)) === JSON.stringify(want)),
      () => `${what}: ${everyone.map((c) => JSON.stringify(tabs(c.seen.list)))}`,
    );
  await expect({ alice: ["a1", "a2"], bob: ["b1"] }, "all three");
  assert.deepEqual(bob.seen.joins, ["alice", "bob"], "alice joined once, with two tabs");

  assert.equal((await outcome(alice2.channel.push("typing", {}))).status, "ok");
  await until(
    () => bob.seen.list.alice?.metas.some((m) => m.tab === "a2" && m.typing === true),
    "the update",
  );
  assert.deepEqual(tabs(bob.seen.list), { alice: ["a1", "a2"], bob: ["b1"] });

  await disconnect(alice1.socket); // a tab closed: its presence leaves at once
  await until(() => server.presence.list("room:lobby").alice?.metas.length === 1, "untracked");
  await until(() => tabs(bob.seen.list).alice?.join() === "a2", "bob sees one alice tab");
  assert.deepEqual(bob.seen.leaves, [], "alice is still there");

  assert.equal((await outcome(alice2.channel.push("away", {}))).status, "ok");
  await until(() => bob.seen.leaves.join() === "alice", "alice gone");
  assert.deepEqual(tabs(bob.seen.list), { bob: ["b1"] });

  await disconnect(alice2.socket);
  await disconnect(bob.socket);
  await until(() => server.presence.tracker.size === 0, "nobody left");
});

Deno.test("Presence over channels: two nodes over BroadcastChannel, each client sees both", async () => {
  const name = `presence-channels-${crypto.randomUUID()}`;
  const hub = () => new PubSub<Broadcast>({ backend: new BroadcastChannelBackend({ name }) });
  const options = { heartbeatInterval: 50, downAfter: 200 };
  await using one = serve(hub(), "one", options);
  await using two = serve(hub(), "two", options);
  const ann = await client(one.url, "ann", "t1");
  const ben = await client(two.url, "ben", "t2");
  const both = JSON.stringify({ ann: ["t1"], ben: ["t2"] });
  await until(
    () => [ann, ben].every((c) => JSON.stringify(tabs(c.seen.list)) === both),
    () => `both: ${JSON.stringify([tabs(ann.seen.list), tabs(ben.seen.list)])}`,
  );
  assert.deepEqual(
    ben.seen.list.ann.metas.map((m) => m.node),
    ["one"],
    "ann's meta comes from node one",
  );
  await disconnect(ann.socket);
  await until(() => ben.seen.leaves.join() === "ann", "ann left, seen on node two");
  await disconnect(ben.socket);
});
