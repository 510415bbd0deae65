import assert from "node:assert/strict";
import { PubSub, type Subscriber } from "../pubsub/mod.ts";
import { NatsBackend, NatsBackendError } from "../pubsub/nats.ts";
import { topicToken } from "../pubsub/_nats.ts";
import { delay, until } from "./_helpers.ts";
import { freePort } from "./_redis.ts";
import { HAS_NATS, startNats, warnWithoutNats } from "./_nats.ts";

warnWithoutNats("pubsub_nats_test.ts");

function inbox(): Subscriber<unknown> & { got: unknown[] } {
  const got: unknown[] = [];
  return { got, send: (m: unknown) => got.push(m) > 0 };
}

Deno.test({
  name: "NatsBackend carries messages between two PubSubs in publish order, without echo",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const one = new PubSub({ backend: new NatsBackend({ url: nats.url }) });
    const two = new PubSub({ backend: new NatsBackend({ url: [nats.url], prefix: "websock" }) });
    const a = inbox(), b = inbox();
    await one.subscribe("room:1", a);
    await two.subscribe("room:1", b);
    for (let i = 0; i < 200; i++) one.publish("room:1", { n: i });
    two.publish("room:1", "from two");
    await until(
      () => b.got.length === 201 && a.got.length === 201,
      () => `a=${a.got.length} b=${b.got.length}`,
    );
    assert.deepEqual(
      b.got.filter((m) => m !== "from two"),
      Array.from({ length: 200 }, (_, i) => ({ n: i })),
    );
    assert.equal(a.got.at(-1), "from two");
    await delay(50);
    assert.equal(a.got.length, 201, "no echo of one's own messages");
    await one.close();
    await two.close();
  },
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
  name:
    "NatsBackend: server killed and restarted during publishes: down once, up once with the drops counted per topic, subscriptions resume",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    const backend = () => new NatsBackend({ url: nats.url, maxRetryDelay: 50 });
    const one = new PubSub({ backend: backend(), onError: (e) => errorsOne.push(e as Error) });
    const two = new PubSub({ backend: backend(), onError: (e) => errorsTwo.push(e as Error) });
    const b = inbox();
    await two.subscribe("room", b);
    await one.subscribe("other", inbox());
    one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    // Published to a frozen server (sent, never confirmed), then to a dead one before and
    // after the client noticed (refused): all of them count.
    const published = { room: 0, lobby: 0 };
    await nats.freeze();
    for (let i = 0; i < 10; i++) {
      one.publish("room", `down frozen ${i}`);
      published.room++;
      await delay(5);
    }
    assert.equal(errorsOne.length, 0, "the client has not noticed");
    await nats.kill();
    for (let i = 0; i < 30; i++) {
      one.publish("room", `down ${i}`);
      published.room++;
      if (i % 3 === 0) {
        one.publish("lobby", `down ${i}`);
        published.lobby++;
      }
      await delay(10);
    }
    await until(() => errorsOne.length >= 1 && errorsTwo.length >= 1, "the outage reports");
    await nats.restart();
    const ended = (errors: Error[]) => errors.some((e) => /connection back/.test(e.message));
    await until(
      () => ended(errorsOne) && ended(errorsTwo),
      () =>
        `the end reports; got ${
          JSON.stringify([...errorsOne, ...errorsTwo].map((e) => e.message))
        }`,
      10_000,
    );
    for (let i = 0; i < 100 && !b.got.includes("after"); i++) {
      one.publish("room", "after");
      await delay(50);
    }
    assert.ok(b.got.includes("after"), `got ${JSON.stringify(b.got)}`);
    assert.ok(
      !b.got.some((m) => String(m).startsWith("down")),
      "nothing of the outage came through",
    );

    const where = `NATS pub/sub backend ${nats.url}`;
    for (const e of [...errorsOne, ...errorsTwo]) {
      assert.ok(e instanceof NatsBackendError, `not wrapped: ${e}`);
      assert.ok(e.message.startsWith(`${where}: `), e.message);
    }
    assert.deepEqual(errorsOne.map((e) => (e as NatsBackendError).event), ["down", "up"]);
    assert.deepEqual(errorsTwo.map((e) => (e as NatsBackendError).event), ["down", "up"]);
    assert.match(
      errorsOne[0].message,
      /: connection lost \(.+\); publishes are dropped until it is back$/,
    );
    assert.ok(errorsOne[0].cause instanceof Error, "the client's error is the cause");
    const total = published.room + published.lobby;
    assert.match(
      errorsOne[1].message,
      new RegExp(
        `: connection back after \\d+\\.\\d s; ${total} publishes dropped meanwhile \\(room: ${published.room}, lobby: ${published.lobby}\\)$`,
      ),
    );
    assert.deepEqual((errorsOne[1] as NatsBackendError).dropped, published);
    assert.match(errorsTwo[1].message, /: connection back after \d+\.\d s; no publish dropped$/);
    await one.close();
    await two.close();
    assert.equal(errorsOne.length + errorsTwo.length, 4, "nothing more, closing included");
  },
});

Deno.test({
  name: "NatsBackend names the backend and the URL, password or token redacted, in every report",
  ignore: !HAS_NATS,
  async fn() {
    for (const auth of ["user:hunter2", "hunter2"]) {
      const url = `nats://${auth}@127.0.0.1:${freePort()}`; // nobody listens
      const errors: Error[] = [];
      const pubsub = new PubSub({
        backend: new NatsBackend({ url, maxRetryDelay: 50 }),
        onError: (e) => errors.push(e as Error),
      });
      pubsub.publish("room", "lost");
      await until(() => errors.length >= 1, "the outage report");
      pubsub.publish("room", "lost too");
      await delay(200);
      await pubsub.close();
      assert.equal(errors.length, 1, errors.map((e) => e.message).join("\n"));
      const redacted = url.replace(auth, auth.includes(":") ? "user:***" : "***");
      assert.ok(errors[0] instanceof NatsBackendError);
      assert.ok(
        errors[0].message.startsWith(`NATS pub/sub backend ${redacted}: connection lost (`),
        errors[0].message,
      );
      assert.equal((errors[0] as NatsBackendError).url, redacted);
      assert.doesNotMatch(errors[0].message, /hunter2/);
      assert.ok(errors[0].cause instanceof Error);
    }
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

Deno.test({
  name: "NatsBackend.close() returns while NATS is down instead of waiting for a reconnect",
  ignore: !HAS_NATS,
  async fn() {
    await using nats = await startNats();
    const errors: unknown[] = [];
    const pubsub = new PubSub({
      backend: new NatsBackend({ url: nats.url }),
      onError: (e) => errors.push(e),
    });
    await pubsub.subscribe("room", inbox());
    await nats.kill();
    await until(() => errors.length > 0, "the error report");
    await delay(300); // the client now waits to reconnect
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      pubsub.close().then(() => "closed"),
      new Promise<string>((resolve) => timer = setTimeout(() => resolve("still waiting"), 3000)),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
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
});
