// channels() broadcasts across nodes: two apps, each with its own PubSub, joined by a
// BroadcastChannel or a Redis backend. A broadcast and a broadcastFrom reach the channels of
// both nodes (the sender skipped by broadcastFrom), as frames encoded on each node.

import assert from "node:assert/strict";
import {
  type Broadcast,
  type Channel,
  channels,
  type ChannelSocket,
  joined,
  noreply,
} from "../channels/mod.ts";
import { BroadcastChannelBackend, PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { Client } from "./_channels.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("channels_backends_test.ts");

const Room = {
  join: (_topic, _payload, socket) => joined({ socket }),
  handleIn(event, payload, state) {
    if (event === "others") state.socket.broadcastFrom("others", payload);
    return noreply(state);
  },
} satisfies Channel<{ socket: ChannelSocket }>;

async function acrossNodes(one: PubSub<Broadcast>, two: PubSub<Broadcast>): Promise<void> {
  const appOne = channels({ "room:*": Room }, { pubsub: one });
  const appTwo = channels({ "room:*": Room }, { pubsub: two });
  // The topic's first subscriber on each node waits until the backend has it: from then on a
  // publish crosses (the channels that join later share that backend subscription).
  await Promise.all([one, two].map((p) => p.subscribe("room:x", { send: () => true })));
  const sender = await Client.start(appOne);
  const near = await Client.start(appOne);
  const far = await Client.start(appTwo);
  const j = await sender.join("room:x");
  await near.join("room:x");
  await far.join("room:x");
  for (const c of [sender, near, far]) await c.next(1);
  appOne.broadcast("room:x", "news", { n: 1 });
  const news = { joinRef: null, ref: null, topic: "room:x", event: "news", payload: { n: 1 } };
  assert.deepEqual(await far.next(1), [news]);
  assert.deepEqual(await near.next(1), [news]);
  assert.deepEqual(await sender.next(1), [news]);
  await sender.push("room:x", "others", { n: 2 }, j);
  const others = { ...news, event: "others", payload: { n: 2 } };
  assert.deepEqual(await far.next(1), [others]);
  assert.deepEqual(await near.next(1), [others]);
  appTwo.broadcast("room:x", "back", {}); // after "others" on the sender's side too
  assert.deepEqual((await sender.next(1)).map((m) => m.event), ["back"]);
  for (const c of [sender, near, far]) await c.conn.close(1000);
  await one.close();
  await two.close();
}

Deno.test("channels() broadcasts between two nodes over a BroadcastChannel backend", async () => {
  const name = `channels-${crypto.randomUUID()}`;
  await acrossNodes(
    new PubSub({ backend: new BroadcastChannelBackend({ name }) }),
    new PubSub({ backend: new BroadcastChannelBackend({ name }) }),
  );
});

Deno.test({
  name: "channels() broadcasts between two nodes over a Redis backend",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    await acrossNodes(
      new PubSub({ backend: new RedisBackend({ url: redis.url }) }),
      new PubSub({ backend: new RedisBackend({ url: redis.url }) }),
    );
  },
});
