// The chat demo's server (examples/chat/server.ts) in child processes, driven by the real
// `phoenix` client: rooms, presence, history on join, refused names, every backend.
import assert from "node:assert/strict";
import { type ChatServer, join, type Member, startChat, until } from "./_chat.ts";
import { HAS_REDIS, startRedis, warnWithoutRedis } from "./_redis.ts";
import { delay } from "./_helpers.ts";
import { parsePrometheus, valueOf } from "./_prometheus_format.ts";

warnWithoutRedis("chat_test.ts");

const texts = (m: Member) => m.messages.map((message) => `${message.name}: ${message.text}`);

/** Every member says one line; every member must see every line. */
async function everyoneHearsEveryone(members: Member[]): Promise<void> {
  members.forEach((m, i) => m.channel.push("message", { text: `line from ${i}` }));
  const expected = members.map((_, i) => `line from ${i}`).sort();
  for (const [who, m] of members.entries()) {
    await until(() => m.messages.length >= expected.length, `member ${who}'s lines`);
    assert.deepEqual(m.messages.map((message) => message.text).sort(), expected, `member ${who}`);
  }
}

async function closeAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.close()));
}

Deno.test("chat example: rooms, presence, history on join, timestamps", async () => {
  await using server: ChatServer = await startChat();
  const members: Member[] = [];
  try {
    const ann = await join(server.port, "ann");
    members.push(ann);
    const before = Date.now();
    ann.channel.push("message", { text: "first" });
    ann.channel.push("message", { text: "second" });
    await until(() => ann.messages.length === 2, "ann's own lines");
    assert.ok(ann.messages.every((m) => m.at >= before - 1000 && m.at <= Date.now()));
    // A later member of the room gets its recent history on join, then live lines.
    const bob = await join(server.port, "bob");
    members.push(bob);
    await until(() => bob.messages.length === 2, "the history");
    assert.deepEqual(texts(bob), ["ann: first", "ann: second"]);
    await until(() => ann.online().length === 2, "bob online for ann");
    assert.deepEqual(ann.online(), ["ann", "bob"]);
    // Another room: its own history (none) and its own online list.
    const cat = await join(server.port, "cat", { room: "games" });
    members.push(cat);
    cat.channel.push("message", { text: "anyone?" });
    await until(() => cat.messages.length === 1, "cat's line");
    await delay(100);
    assert.deepEqual(texts(bob), ["ann: first", "ann: second"], "no line of another room");
    assert.deepEqual(cat.online(), ["cat"]);
    // Two tabs of one session: one name online, both get the lines.
    const tab = await join(server.port, "bob", { session: bob.session });
    members.push(tab);
    assert.deepEqual(ann.online(), ["ann", "bob"]);
    await tab.close();
    members.pop();
    await delay(200);
    assert.deepEqual(ann.online(), ["ann", "bob"], "bob is still online in his other tab");
    await bob.close();
    members.splice(members.indexOf(bob), 1);
    await until(() => ann.online().length === 1, "bob gone for ann");
  } finally {
    await closeAll(members);
  }
});

Deno.test("chat example: a name online from another session is refused; a bad name too", async () => {
  await using server = await startChat();
  const ann = await join(server.port, "ann");
  try {
    await assert.rejects(
      join(server.port, "ann"),
      new Error("Refused: The name ann is already online in this room: choose another"),
    );
    await assert.rejects(
      join(server.port, "a b"),
      new Error("Refused: Names are 1 to 24 letters, digits, _ . or - (no spaces)"),
    );
    assert.deepEqual(ann.online(), ["ann"], "nobody heard of the refused members");
    // Once ann is gone, the name is free again.
    await ann.close();
    await delay(100);
    const again = await join(server.port, "ann");
    await again.close();
  } finally {
    await ann.close();
  }
});

Deno.test({
  name: "chat example: two processes sharing one Redis deliver every message and presence",
  ignore: !HAS_REDIS,
  async fn() {
    await using redis = await startRedis();
    const env = { REDIS_URL: redis.url };
    await using a = await startChat({ env });
    await using b = await startChat({ env });
    const members: Member[] = [];
    try {
      for (let i = 0; i < 6; i++) members.push(await join(i % 2 ? b.port : a.port, `user${i}`));
      assert.equal(new Set(members.map((m) => m.node)).size, 2, "two processes");
      await everyoneHearsEveryone(members);
      await until(() => members[0].online().length === 6, "everyone online on both");
      // A leave on one process is seen on the other.
      const gone = members.pop()!;
      await gone.close();
      await until(() => !members[0].online().includes("user5"), "user5's leave");
      // History on join comes from the shared stream.
      const late = await join(a.port, "late");
      members.push(late);
      await until(() => late.messages.length === 6, "the shared history");
    } finally {
      await closeAll(members);
    }
  },
});

Deno.test("chat example: deno serve --parallel shares rooms and presence between workers via BroadcastChannel", async () => {
  await using server: ChatServer = await startChat({
    env: { PUBSUB: "broadcast" },
    parallel: 2,
  });
  const members: Member[] = [];
  try {
    // Connections land on workers unpredictably: join in concurrent batches until both
    // workers have some (bounded: 30 rounds, 50 ms apart).
    for (let round = 0; round < 30; round++) {
      if (round > 0) await delay(50);
      const batch = Array.from({ length: 4 }, (_, i) => join(server.port, `user${round}x${i}`));
      members.push(...await Promise.all(batch));
      if (new Set(members.map((m) => m.node)).size === 2) break;
    }
    const workers = new Set(members.map((m) => m.node));
    assert.equal(workers.size, 2, `clients landed on ${[...workers].join(", ")}`);
    await everyoneHearsEveryone(members);
    await until(() => members.every((m) => m.online().length === members.length), "presence");
  } finally {
    await closeAll(members);
  }
});

Deno.test("chat example: GET /metrics serves the connections' telemetry as Prometheus text", async () => {
  await using server: ChatServer = await startChat();
  const members = [await join(server.port, "ann"), await join(server.port, "bob")];
  try {
    members[0].channel.push("message", { text: "hi" });
    await until(() => members[1].messages.some((m) => m.text === "hi"), "hi");
    const response = await fetch(`${server.origin}/metrics`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await response.text());
    assert.equal(valueOf(families, "websock_connections_active"), 2);
    assert.equal(valueOf(families, "websock_connections_opened_total"), 2);
  } finally {
    await closeAll(members);
  }
});

Deno.test("chat example: the page, its phoenix client and the favicon are served", async () => {
  await using server: ChatServer = await startChat();
  const page = await fetch(`${server.origin}/`);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await page.text();
  assert.ok(html.includes(`from "/phoenix.mjs"`) && html.includes(`href="/favicon.svg"`));
  assert.ok(!/https?:\/\/(?!www\.w3)/.test(html), "no CDN");
  const client = await fetch(`${server.origin}/phoenix.mjs`);
  assert.match(client.headers.get("content-type") ?? "", /^text\/javascript/);
  assert.match(await client.text(), /export \{[^}]*Presence[^}]*Socket/s);
  const icon = await fetch(`${server.origin}/favicon.svg`);
  assert.equal(icon.headers.get("content-type"), "image/svg+xml");
  assert.match(await icon.text(), /^<svg/);
  const missing = await fetch(`${server.origin}/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});
