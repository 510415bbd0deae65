// Presence between the workers of `deno serve --parallel` (BroadcastChannelBackend), seen by
// the real `phoenix` client's Presence: clients on both workers see every user, and a user
// that leaves is gone for all of them.

import assert from "node:assert/strict";
import { disconnect } from "./_phoenix.ts";
import { delay, until } from "./_helpers.ts";
import { client } from "./_presence_client.ts";
import { startServe } from "./_chat.ts";

const SERVER = new URL("./fixtures/presence_serve.ts", import.meta.url).pathname;

type Client = Awaited<ReturnType<typeof client>>;

Deno.test("Presence under deno serve --parallel: the workers share their users over BroadcastChannel", async () => {
  await using server = await startServe(SERVER, { parallel: 2 });
  const url = `ws://127.0.0.1:${server.port}/socket`;
  const clients: Client[] = [];
  // The worker that serves a client: the node of its own meta in its presence_state.
  const workerOf = async (c: Client, user: string) => {
    await until(() => c.seen.list[user] !== undefined, `${user}'s own presence`);
    return String(c.seen.list[user].metas[0].node);
  };
  try {
    // Connections land on workers unpredictably: join in concurrent batches until both have
    // some (bounded: 30 rounds).
    const workers = new Set<string>();
    for (let round = 0; round < 30 && workers.size < 2; round++) {
      if (round > 0) await delay(50);
      const users = Array.from({ length: 3 }, (_, i) => `u${round}x${i}`);
      const batch = await Promise.all(users.map((user) => client(url, user, user)));
      clients.push(...batch);
      for (const [i, c] of batch.entries()) workers.add(await workerOf(c, users[i]));
    }
    assert.equal(workers.size, 2, `clients landed on ${[...workers].join(", ")}`);
    const everyone = clients.map((c) => c.socket.params().user as string).sort().join();
    await until(
      () => clients.every((c) => Object.keys(c.seen.list).sort().join() === everyone),
      () => `everyone: ${clients.map((c) => Object.keys(c.seen.list).length).join(" ")}`,
      30_000,
    );
    const [gone, ...rest] = clients;
    const name = gone.socket.params().user as string;
    await disconnect(gone.socket);
    clients.shift();
    await until(
      () => rest.every((c) => !(name in c.seen.list)),
      `${name} gone for every client`,
      30_000,
    );
  } finally {
    for (const c of clients) await disconnect(c.socket);
  }
});
