// The contract every live pub/sub backend keeps (Redis, core NATS), as one suite of tests on
// a real server: messages between nodes in publish order without echo; an outage reported
// once when it starts and once when it ends with the publishes dropped meanwhile, per topic
// (pubsub/_outage.ts), subscriptions resuming after it; the URL in every report with its
// password or token redacted; close() not waiting for a server that is down. Each backend's
// test file runs it with its own server and names, as tests/_history_contract.ts does for
// the history backends.

import assert from "node:assert/strict";
import { type Backend, PubSub, type Subscriber } from "../pubsub/mod.ts";
import { delay, until, within } from "./_helpers.ts";
import { freePort } from "./_redis.ts";

/** A server the suite starts, kills and restarts. */
export interface LiveServer extends AsyncDisposable {
  readonly url: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  /**
   * Stop the server without closing its connections (SIGSTOP), when the suite should also
   * publish to a frozen server before killing it (sent, never confirmed: counted as dropped).
   */
  freeze?(): Promise<void>;
}

/** What a backend reports to `onError`, as the suite checks it. */
export interface BackendReport extends Error {
  readonly event: "down" | "up" | "error";
  readonly url: string;
  readonly dropped: Readonly<Record<string, number>> | undefined;
}

/** One backend, as the suite needs it. */
export interface LiveContract {
  /** The class, for test names: `RedisBackend`. */
  readonly backend: string;
  /** What it is over, for test names: `Redis`. */
  readonly over: string;
  /** The server is not installed: the tests are ignored. */
  readonly ignore: boolean;
  /** Start a server on 127.0.0.1 and a free port. */
  start(): Promise<LiveServer>;
  make(url: string, options?: { maxRetryDelay?: number }): Backend;
  /** The same backend as `make(url)`, its defaults written out (a list, the prefix). */
  alike(url: string): Backend;
  /** The backend's error class (what every report is). */
  readonly report: abstract new (...args: never[]) => BackendReport;
  /** How every report's message starts, before the URL: `Redis pub/sub backend`. */
  readonly label: string;
  /** The URL scheme: `redis`. */
  readonly scheme: string;
}

/** A subscriber that keeps what it gets (the live backends' tests share it). */
export function inbox(): Subscriber<unknown> & { got: unknown[] } {
  const got: unknown[] = [];
  return { got, send: (m: unknown) => got.push(m) > 0 };
}

/**
 * What a PubSub over `backend` reports when nobody listens at its URL: one report (the
 * outage's start), however many publishes, checked after `settle` ms and a close.
 */
export async function lonelyOutage(backend: Backend, settle: number): Promise<Error> {
  const errors: Error[] = [];
  const pubsub = new PubSub({ backend, onError: (e) => errors.push(e as Error) });
  pubsub.publish("room", "lost");
  await until(() => errors.length >= 1, "the outage report");
  pubsub.publish("room", "lost too");
  await delay(settle);
  await pubsub.close();
  assert.equal(errors.length, 1, errors.map((e) => e.message).join("\n"));
  return errors[0];
}

/** Register the contract's tests for one backend. */
export function backendContract(c: LiveContract): void {
  const test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: c.ignore, fn });

  test(`${c.backend} carries messages between two PubSubs in publish order, without echo`, async () => {
    await using server = await c.start();
    const one = new PubSub({ backend: c.make(server.url) });
    const two = new PubSub({ backend: c.alike(server.url) });
    const a = inbox(), b = inbox();
    await one.subscribe("room:1", a);
    await two.subscribe("room:1", b);
    for (let i = 0; i < 200; i++) one.publish("room:1", { n: i });
    two.publish("room:1", "from two");
    await until(
      () => b.got.length === 201 && a.got.length === 201,
      () => `a=${a.got.length} b=${b.got.length}`,
    );
    // b has "from two" (its own node's, delivered at once) and one's 200, in order.
    assert.deepEqual(
      b.got.filter((m) => m !== "from two"),
      Array.from({ length: 200 }, (_, i) => ({ n: i })),
    );
    assert.equal(a.got.at(-1), "from two");
    await delay(50);
    assert.equal(a.got.length, 201, "no echo of one's own messages");
    await one.close();
    await two.close();
  });

  test(`${c.backend}: server killed and restarted during publishes: down once, up once with the drops counted per topic, subscriptions resume`, async () => {
    await using server = await c.start();
    const errorsOne: Error[] = [], errorsTwo: Error[] = [];
    const backend = () => c.make(server.url, { maxRetryDelay: 50 });
    const one = new PubSub({ backend: backend(), onError: (e) => errorsOne.push(e as Error) });
    const two = new PubSub({ backend: backend(), onError: (e) => errorsTwo.push(e as Error) });
    const b = inbox();
    await two.subscribe("room", b);
    await one.subscribe("other", inbox());
    one.publish("room", "before");
    await until(() => b.got.length === 1, "the first message");

    const published = { room: 0, lobby: 0 };
    if (server.freeze) {
      // Published to a frozen server (sent, never confirmed): they count too.
      await server.freeze();
      for (let i = 0; i < 10; i++) {
        one.publish("room", `down frozen ${i}`);
        published.room++;
        await delay(5);
      }
      assert.equal(errorsOne.length, 0, "the client has not noticed");
    }
    await server.kill();
    // Published before the backend noticed (refused, or waiting in the client, then failed)
    // and after: all of them count.
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
    await delay(300); // several reconnection attempts: a client gives up on what it held
    await server.restart();
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

    const where = `${c.label} ${server.url}`;
    for (const e of [...errorsOne, ...errorsTwo]) {
      assert.ok(e instanceof c.report, `not wrapped: ${e}`);
      assert.ok(e.message.startsWith(`${where}: `), e.message);
    }
    assert.deepEqual(errorsOne.map((e) => (e as BackendReport).event), ["down", "up"]);
    assert.deepEqual(errorsTwo.map((e) => (e as BackendReport).event), ["down", "up"]);
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
    assert.deepEqual((errorsOne[1] as BackendReport).dropped, published);
    assert.match(errorsTwo[1].message, /: connection back after \d+\.\d s; no publish dropped$/);
    await one.close();
    await two.close();
    assert.equal(errorsOne.length + errorsTwo.length, 4, "nothing more, closing included");
  });

  test(`${c.backend} names the backend and the URL, password or token redacted, in every report`, async () => {
    for (const auth of ["user:hunter2", "hunter2"]) {
      const url = `${c.scheme}://${auth}@127.0.0.1:${freePort()}`; // nobody listens
      const error = await lonelyOutage(c.make(url, { maxRetryDelay: 50 }), 200);
      const redacted = url.replace(auth, auth.includes(":") ? "user:***" : "***");
      assert.ok(error instanceof c.report);
      assert.ok(
        error.message.startsWith(`${c.label} ${redacted}: connection lost (`),
        error.message,
      );
      assert.equal((error as BackendReport).url, redacted);
      assert.doesNotMatch(error.message, /hunter2/);
      assert.ok(error.cause instanceof Error);
    }
  });

  test(`${c.backend}.close() returns while ${c.over} is down instead of waiting for a reconnect`, async () => {
    await using server = await c.start();
    const errors: unknown[] = [];
    const pubsub = new PubSub({ backend: c.make(server.url), onError: (e) => errors.push(e) });
    await pubsub.subscribe("room", inbox());
    await server.kill();
    await until(() => errors.length > 0, "the error report");
    await delay(300); // the client(s) now wait to reconnect
    await within(pubsub.close(), 3000, "close() while the server is down");
  });
}
