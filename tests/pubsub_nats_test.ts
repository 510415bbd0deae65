import assert from "node:assert/strict";
import { PubSub } from "../pubsub/mod.ts";
import { NatsBackend, NatsBackendError } from "../pubsub/nats.ts";
import { topicToken } from "../pubsub/_nats.ts";
import { backendContract, inbox } from "./_backend_contract.ts";
import { delay, until } from "./_helpers.ts";
import { HAS_NATS, startNats, warnWithoutNats } from "./_nats.ts";

warnWithoutNats("pubsub_nats_test.ts");

// The same suite as RedisBackend's (tests/_backend_contract.ts), on a nats-server; a frozen
// server first, so that publishes sent and never confirmed are counted too.
backendContract({
  backend: "NatsBackend",
  over: "NATS",
  ignore: !HAS_NATS,
  start: () => startNats(),
  make: (url, options) => new NatsBackend({ url, ...options }),
  alike: (url) => new NatsBackend({ url: [url], prefix: "websock" }),
  report: NatsBackendError,
  label: "NATS pub/sub backend",
  scheme: "nats",
});

Deno.test({
  name: "NatsBackend keeps topics apart, whatever characters they have, and prefixes apart",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = new PubSub({ backend: new NatsBackend({ url: nats.url }) });
    const two = new PubSub({ backend: new NatsBackend({ url: nats.url }) });
    const other = new PubSub({ backend: new NatsBackend({ url: nats.url, prefix: "other" }) });
    const topics = ["a.b", "a", "a b", "a_2Eb", "*", ">", "ü", ""];
    const boxes = topics.map(() => inbox());
    for (const [i, topic] of topics.entries()) await two.subscribe(topic, boxes[i]);
    const elsewhere = inbox();
    await other.subscribe("a", elsewhere);
    for (const topic of topics) one.publish(topic, topic);
    await until(() => boxes.every((box) => box.got.length >= 1), "every topic");
    await delay(50);
    assert.deepEqual(boxes.map((box) => box.got), topics.map((t) => [t]));
    assert.deepEqual(elsewhere.got, [], "another prefix is another namespace");
    assert.equal(topicToken("room:1"), "room_3A1");
    assert.equal(topicToken("a.b"), "a_2Eb");
    assert.equal(topicToken("ü"), "_C3_BC");
    await one.close();
    await two.close();
    await other.close();
  },
});

Deno.test({
  name: "NatsBackend logs in with the user and password of its URL",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats({ args: ["--user", "ws", "--pass", "s3cret"] });
    const url = `nats://ws:s3cret@127.0.0.1:${nats.port}`;
    const one = new PubSub({ backend: new NatsBackend({ url }) });
    const two = new PubSub({ backend: new NatsBackend({ url }) });
    const b = inbox();
    await two.subscribe("room", b);
    one.publish("room", "hello");
    await until(() => b.got.length === 1, "the message");
    await one.close();
    await two.close();
    // A wrong password is refused, and reported with the password redacted.
    const errors: Error[] = [];
    const wrong = new PubSub({
      backend: new NatsBackend({ url: url.replace("s3cret", "nope"), maxRetryDelay: 50 }),
      onError: (e) => errors.push(e as Error),
    });
    await until(() => errors.length >= 1, "the refusal");
    await wrong.close();
    assert.match(errors[0].message, /^NATS pub\/sub backend nats:\/\/ws:\*\*\*@127\.0\.0\.1:\d+: /);
    assert.doesNotMatch(errors[0].message, /nope/);
  },
});

Deno.test({
  name:
    "NatsBackend outlives a server that refuses its login and resets the connection, attempt after attempt",
  ignore: !HAS_NATS,
  async fn() {
    // nats-server answers a wrong password with -ERR and closes with the client's PING
    // unread: a reset, which can reach a socket the client has already let go. That error
    // must not escape (it did, as an uncaught `read ECONNRESET`, within ~100 attempts).
    await using nats = await startNats({ args: ["--user", "ws", "--pass", "s3cret"] });
    const url = `nats://ws:nope@127.0.0.1:${nats.port}`;
    const errors: Error[][] = [];
    const nodes = Array.from({ length: 10 }, (_, i) => {
      errors.push([]);
      return new PubSub({
        backend: new NatsBackend({ url, maxRetryDelay: 0 }),
        onError: (e) => errors[i].push(e as Error),
      });
    });
    // Bounded: 30 s for 400 refused logins (about 2 s on an idle machine).
    const end = Date.now() + 30_000;
    while (await nats.connections() < 400) {
      if (Date.now() > end) throw new Error("Timed out waiting for 400 login attempts");
      await delay(20);
    }
    for (const node of nodes) await node.close();
    for (const list of errors) {
      assert.equal(list.length, 1, "one report per outage");
      assert.match(list[0].message, /: connection lost \(.+\); publishes are dropped/);
    }
  },
});

Deno.test("NatsBackend rejects bad options with errors naming the value", () => {
  assert.throws(() => new NatsBackend({ url: "redis://x" }), {
    name: "TypeError",
    message: 'Invalid option url: "redis://x" is not a nats:// URL or a list',
  });
  assert.throws(() => new NatsBackend({ url: [] }), { name: "TypeError" });
  assert.throws(() => new NatsBackend({ prefix: "a.b" }), {
    name: "TypeError",
    message: 'Invalid option prefix: "a.b" is not made of letters, digits, - and _',
  });
  assert.throws(() => new NatsBackend({ maxRetryDelay: -1 }), {
    name: "RangeError",
    message: "Invalid option maxRetryDelay: -1 is not a number of ms >= 0",
  });
  // Values shown as the engine shows them: a string quoted, never taken for a number.
  assert.throws(() => new NatsBackend({ maxRetryDelay: "5" as never }), {
    name: "RangeError",
    message: 'Invalid option maxRetryDelay: "5" is not a number of ms >= 0',
  });
  assert.throws(() => new NatsBackend({ prefix: 5 as never }), {
    name: "TypeError",
    message: "Invalid option prefix: 5 is not made of letters, digits, - and _",
  });
});
