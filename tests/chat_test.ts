import assert from "node:assert/strict";
import { type ChatServer, join, type Member, readUntil, startChat } from "./_chat.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";
import { connect, delay } from "./_helpers.ts";
import { parsePrometheus, valueOf } from "./_prometheus_format.ts";

warnWithoutRedis("chat_test.ts");

/** Every member says one line; every member must see every line. */
async function everyoneHearsEveryone(members: Member[]): Promise<void> {
  members.forEach((m, i) => m.client.send(`line from ${i}`));
  const expected = new Set(members.map((_, i) => `line from ${i}`));
  await Promise.all(members.map(async (m, who) => {
    const heard = new Set<string>();
    await readUntil(m.client, (event) => {
      if (event.type === "message") heard.add(String(event.text));
      return heard.size === expected.size;
    });
    assert.deepEqual(heard, expected, `member ${who}`);
  }));
}

async function closeAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.client.close()));
}

Deno.test({
  name: "chat example: two processes sharing one Redis deliver every message to every client",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const env = { REDIS_URL: redis.url };
    await using a = await startChat({ env });
    await using b = await startChat({ env });
    const members: Member[] = [];
    try {
      for (let i = 0; i < 6; i++) members.push(await join(i % 2 ? b.port : a.port, `user${i}`));
      assert.equal(new Set(members.map((m) => m.worker)).size, 2, "two processes");
      await everyoneHearsEveryone(members);
      // A leave on one process is seen on the other.
      const gone = members.pop()!;
      await gone.client.close();
      await readUntil(members[0].client, (e) => e.type === "leave" && e.name === "user5");
    } finally {
      await closeAll(members);
    }
  },
});

Deno.test("chat example: deno serve --parallel shares the room between workers via BroadcastChannel", async () => {
  await using server: ChatServer = await startChat({
    env: { PUBSUB: "broadcast" },
    parallel: 2,
  });
  const members: Member[] = [];
  try {
    // Connections land on workers unpredictably (an idle worker takes the next one, and the
    // second may still be starting): join in concurrent batches until both workers have
    // some (bounded: 30 rounds, 50 ms apart).
    for (let round = 0; round < 30; round++) {
      if (round > 0) await delay(50);
      const batch = Array.from({ length: 4 }, (_, i) => join(server.port, `user${round}x${i}`));
      members.push(...await Promise.all(batch));
      if (new Set(members.map((m) => m.worker)).size === 2) break;
    }
    const workers = new Set(members.map((m) => m.worker));
    assert.equal(workers.size, 2, `clients landed on ${[...workers].join(", ")}`);
    await everyoneHearsEveryone(members);
  } finally {
    await closeAll(members);
  }
});

Deno.test("chat example: a bad name is accepted, then closed with 4001 and a reason a page can show", async () => {
  await using server = await startChat();
  const client = await connect(`ws://127.0.0.1:${server.port}/?name=${encodeURIComponent("a b")}`);
  const closed = await client.closed;
  assert.equal(closed.code, 4001);
  assert.equal(closed.reason, "Names are 1 to 24 letters, digits, _ . or - (no spaces)");
  // Nobody heard of the refused member.
  const member = await join(server.port, "ann");
  const events = await readUntil(member.client, (e) => e.type === "join");
  assert.deepEqual(events.map((e) => e.name), ["ann"]);
  await member.client.close();
});

Deno.test("chat example: GET /metrics serves the connections' telemetry as Prometheus text", async () => {
  await using server: ChatServer = await startChat();
  const members = [await join(server.port, "ann"), await join(server.port, "bob")];
  try {
    members[0].client.send("hi");
    await readUntil(members[1].client, (e) => e.type === "message" && e.text === "hi");
    const response = await fetch(`${server.origin}/metrics`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await response.text());
    assert.equal(valueOf(families, "websock_connections_active"), 2);
    assert.equal(valueOf(families, "websock_connections_opened_total"), 2);
    assert.equal(valueOf(families, "websock_messages_received_total", { kind: "text" }), 1);
  } finally {
    await closeAll(members);
  }
});

Deno.test({
  name: "chat example with Redis Streams: a line sent while Redis is down comes back as unsent",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    await using server = await startChat({ env: { REDIS_URL: redis.url } });
    const ann = await join(server.port, "ann");
    try {
      ann.client.send("first");
      const before = await readUntil(ann.client, (e) => e.type === "message");
      assert.equal(before.at(-1)!.text, "first");
      await redis.kill();
      await delay(200); // the server has seen the connection drop
      ann.client.send("lost?");
      const events = await readUntil(ann.client, (e) => e.type === "unsent");
      assert.deepEqual(events.at(-1), { type: "unsent", text: "lost?" });
    } finally {
      await ann.client.close();
    }
  },
});
