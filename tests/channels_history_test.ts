// channels() on a HistoryPubSub: broadcasts carry their position as their ref, a join with
// `since` catches up (exactly once, in order) then goes live, a join from beyond the history
// gets one history_gap first; broadcastFrom skips the sender; one encode per publish.

import assert from "node:assert/strict";
import {
  type Broadcast,
  type Channel,
  channels,
  type ChannelSocket,
  joined,
  type Message,
  noreply,
} from "../channels/mod.ts";
import { HistoryPubSub, MemoryHistory } from "../pubsub/mod.ts";
import { Client } from "./_channels.ts";

const Room = {
  join: (_topic, _payload, socket) => joined({ socket }),
  handleIn(event, payload, state) {
    if (event === "others") state.socket.broadcastFrom("others", payload);
    return noreply(state);
  },
} satisfies Channel<{ socket: ChannelSocket }>;

const ns = (messages: Message[]) => messages.map((m) => (m.payload as { n: number }).n);

async function publish(pubsub: HistoryPubSub<Broadcast>, from: number, to: number) {
  for (let n = from; n <= to; n++) {
    await pubsub.publish("room:h", { topic: "room:h", event: "msg", payload: { n } });
  }
}

Deno.test("channels() on a HistoryPubSub: a join with since catches up exactly once, then goes live", async () => {
  const pubsub = new HistoryPubSub<Broadcast>();
  const app = channels({ "room:*": Room }, { pubsub });
  const first = await Client.start(app);
  await first.join("room:h");
  await first.next(1);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the subscription starts
  await publish(pubsub, 1, 2);
  const got = await first.next(2);
  assert.deepEqual(ns(got), [1, 2]);
  const [epoch] = got[0].ref!.split(":");
  assert.deepEqual(got.map((m) => m.ref), [`${epoch}:1`, `${epoch}:2`]);
  assert.deepEqual(got.map((m) => m.joinRef), [null, null]);
  await first.conn.close(1006); // the client drops; the history goes on
  await publish(pubsub, 3, 5);

  const again = await Client.start(app);
  const j = await again.join("room:h", { since: got[1].ref });
  const caught = await again.next(4);
  assert.deepEqual(caught[0].event, "phx_reply");
  assert.equal(caught[0].joinRef, j);
  assert.deepEqual(ns(caught.slice(1)), [3, 4, 5]);
  await publish(pubsub, 6, 6);
  assert.deepEqual(ns(await again.next(1)), [6]);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(again.take(), [], "no duplicate at the seam");
  await again.conn.close(1000);
  await pubsub.close();
});

Deno.test("channels() on a HistoryPubSub: a join from beyond the history gets a history_gap first", async () => {
  const pubsub = new HistoryPubSub<Broadcast>({ backend: new MemoryHistory({ maxLength: 2 }) });
  const app = channels({ "room:*": Room }, { pubsub });
  await publish(pubsub, 1, 5);
  const client = await Client.start(app);
  const position = await pubsub.publish("room:h", {
    topic: "room:h",
    event: "msg",
    payload: { n: 6 },
  });
  await client.join("room:h", { since: { epoch: position.epoch, offset: 1 } });
  const [reply, gap, ...rest] = await client.next(4);
  assert.equal(reply.event, "phx_reply");
  assert.equal(gap.event, "history_gap");
  assert.deepEqual(gap.payload, {
    after: { epoch: position.epoch, offset: 1 },
    position: { epoch: position.epoch, offset: 4 },
    missed: 3,
  });
  assert.equal(gap.ref, `${position.epoch}:4`);
  assert.deepEqual(ns(rest), [5, 6]);
  await client.conn.close(1000);
  await pubsub.close();
});

Deno.test("channels() on a HistoryPubSub: broadcastFrom skips the sender; one encode for all subscribers", async () => {
  const pubsub = new HistoryPubSub<Broadcast>();
  const app = channels({ "room:*": Room }, { pubsub });
  const clients = await Promise.all([1, 2, 3].map(() => Client.start(app)));
  const refs = [];
  for (const c of clients) refs.push(await c.join("room:h"));
  for (const c of clients) await c.next(1);
  await new Promise((resolve) => setTimeout(resolve, 0));
  await clients[0].push("room:h", "others", { n: 1 }, refs[0]);
  assert.deepEqual(ns(await clients[1].next(1)), [1]);
  assert.deepEqual(ns(await clients[2].next(1)), [1]);
  let encodes = 0;
  app.broadcast("room:h", "msg", {
    toJSON: () => (encodes++, { n: 2 }),
  });
  for (const c of clients) assert.deepEqual(ns(await c.next(1)), [2]);
  assert.deepEqual(ns(clients[0].all().slice(1)), [2], "the sender skipped the broadcastFrom");
  assert.equal(encodes, 1);
  for (const c of clients) await c.conn.close(1000);
  await pubsub.close();
});
