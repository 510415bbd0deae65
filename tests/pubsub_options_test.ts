// Every pub/sub constructor refuses an unknown option name (with the nearest known one), an
// array for its options, and shows an invalid url without its password.

import assert from "node:assert/strict";
import { BroadcastChannelBackend, HistoryPubSub, MemoryHistory, PubSub } from "../pubsub/mod.ts";
import { RedisBackend } from "../pubsub/redis.ts";
import { RedisStreamsBackend } from "../pubsub/redis_streams.ts";
import { NatsBackend } from "../pubsub/nats.ts";
import { JetStreamBackend } from "../pubsub/nats_jetstream.ts";

const backend = {
  start() {},
  subscribe() {},
  unsubscribe() {},
  publish() {},
  close() {},
};

// Each constructor, where its options interface is written, and a valid value of each option.
const constructors: {
  name: string;
  make: (options: unknown) => unknown;
  file: string;
  iface: string;
  valid: Record<string, unknown>;
  misspelt: [string, string];
}[] = [
  {
    name: "PubSub",
    make: (o) => new PubSub(o as never),
    file: "pubsub.ts",
    iface: "PubSubOptions",
    valid: { backend, onError: () => {} },
    misspelt: ["onerror", "onError"],
  },
  {
    name: "HistoryPubSub",
    make: (o) => new HistoryPubSub(o as never),
    file: "history.ts",
    iface: "HistoryPubSubOptions",
    valid: { backend: new MemoryHistory(), onError: () => {} },
    misspelt: ["backned", "backend"],
  },
  {
    name: "BroadcastChannelBackend",
    make: (o) => new BroadcastChannelBackend(o as never),
    file: "broadcast_channel.ts",
    iface: "BroadcastChannelBackendOptions",
    valid: { name: "websock-options-test" },
    misspelt: ["nmae", "name"],
  },
  {
    name: "MemoryHistory",
    make: (o) => new MemoryHistory(o as never),
    file: "memory_history.ts",
    iface: "MemoryHistoryOptions",
    valid: { maxLength: 10, maxAge: 1000, now: () => 0 },
    misspelt: ["maxlength", "maxLength"],
  },
  {
    name: "RedisBackend",
    make: (o) => new RedisBackend(o as never),
    file: "redis.ts",
    iface: "RedisBackendOptions",
    valid: {
      url: "redis://127.0.0.1:6379",
      prefix: "p:",
      maxRetryDelay: 100,
      cluster: ["redis://127.0.0.1:7000"],
    },
    misspelt: ["maxRetryDealy", "maxRetryDelay"],
  },
  {
    name: "RedisStreamsBackend",
    make: (o) => new RedisStreamsBackend(o as never),
    file: "redis_streams.ts",
    iface: "RedisStreamsBackendOptions",
    valid: {
      url: "redis://127.0.0.1:6379",
      prefix: "p:",
      maxLength: 10,
      maxAge: 1000,
      maxRetryDelay: 100,
    },
    misspelt: ["maxAgе", "maxAge"], // a Cyrillic "е"
  },
  {
    name: "NatsBackend",
    make: (o) => new NatsBackend(o as never),
    file: "nats.ts",
    iface: "NatsBackendOptions",
    valid: { url: ["nats://127.0.0.1:4222"], prefix: "p", maxRetryDelay: 100 },
    misspelt: ["urls", "url"],
  },
  {
    name: "JetStreamBackend",
    make: (o) => new JetStreamBackend(o as never),
    file: "_jetstream.ts",
    iface: "JetStreamBackendOptions",
    valid: {
      url: "nats://127.0.0.1:4222",
      prefix: "p",
      maxLength: 10,
      maxAge: 1000,
      storage: "memory",
      replicas: 1,
      maxRetryDelay: 100,
    },
    misspelt: ["replica", "replicas"],
  },
];

// The option names an options interface documents, read from its source.
async function documented(file: string, iface: string): Promise<string[]> {
  const source = await Deno.readTextFile(new URL(`../pubsub/${file}`, import.meta.url));
  const body = source.match(new RegExp(`^export interface ${iface} \\{\\n([^]*?)^\\}`, "m"));
  assert.ok(body, `${iface} in ${file}`);
  return [...body[1].matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]);
}

async function closeIfHub(made: unknown): Promise<void> {
  if (made instanceof PubSub || made instanceof HistoryPubSub) await made.close();
}

for (const c of constructors) {
  Deno.test(`${c.name} accepts every documented option`, async () => {
    assert.deepEqual(Object.keys(c.valid).sort(), (await documented(c.file, c.iface)).sort());
    await closeIfHub(c.make(c.valid));
    await closeIfHub(c.make({}));
    // A documented option left undefined takes its default.
    await closeIfHub(c.make(Object.fromEntries(Object.keys(c.valid).map((k) => [k, undefined]))));
  });

  Deno.test(`${c.name} refuses a misspelled option with the nearest name`, () => {
    const [wrong, right] = c.misspelt;
    assert.throws(() => c.make({ [wrong]: c.valid[right] }), {
      name: "TypeError",
      message: `Unknown option ${JSON.stringify(wrong)}: did you mean "${right}"?`,
    });
    const known = Object.keys(c.valid).join(", ");
    assert.throws(() => c.make({ zzzzzzzzzzzz: 1 }), {
      name: "TypeError",
      message: `Unknown option "zzzzzzzzzzzz": expected one of ${known}`,
    });
  });

  Deno.test(`${c.name} refuses an array, null or a string for its options`, () => {
    const cases: [unknown, string][] = [
      [[], "[]"],
      [[{ url: "x" }], '[{"url":"x"}]'],
      [null, "null"],
      ["nats://x", '"nats://x"'], // a URL where the options go
    ];
    for (const [value, shown] of cases) {
      assert.throws(() => c.make(value), {
        name: "TypeError",
        message: `Invalid ${c.name} options: ${shown} is not an object`,
      });
    }
  });
}

Deno.test("an invalid Redis url is shown without its password", () => {
  const cases: [unknown, string][] = [
    ["http://user:hunter2@host:6379", '"http://user:***@host:6379"'],
    ["user:hunter2@host:6379", '"user:***@host:6379"'], // the scheme forgotten
    ["http://hunter2@host", '"http://***@host"'], // a lone password
    ["http://user:hun@ter2@host", '"http://user:***@host"'], // an unescaped @ in it
    ["http://host/path@x", '"http://host/path@x"'], // no credentials: as it is
    [6379, "6379"],
  ];
  for (const make of [RedisBackend, RedisStreamsBackend]) {
    for (const [url, shown] of cases) {
      assert.throws(() => new make({ url: url as string }), {
        name: "TypeError",
        message: `Invalid option url: ${shown} is not a redis:// URL`,
      });
    }
  }
  assert.throws(() => new RedisBackend({ cluster: ["redis://a:hunter2@h:7000", "h2:7001"] }), {
    name: "TypeError",
    message: 'Invalid option cluster: ["redis://a:***@h:7000","h2:7001"] is not a ' +
      "non-empty list of redis:// URLs",
  });
});

Deno.test("an invalid NATS url is shown without its password or token", () => {
  const cases: [unknown, string][] = [
    ["nats://user:hunter2@host:4222/path", '"nats://user:***@host:4222/path"'],
    ["redis://s3cr3t-token@host", '"redis://***@host"'],
    [
      ["nats://a:hunter2@h1:4222", "nats://b:pw2@h2/x"],
      '["nats://a:***@h1:4222","nats://b:***@h2/x"]',
    ],
    ["nats://a:hunter2@h1,nats://b:pw2@h2", '"nats://a:***@h1,nats://b:***@h2"'],
    [[], "[]"],
  ];
  for (const make of [NatsBackend, JetStreamBackend]) {
    for (const [url, shown] of cases) {
      assert.throws(() => new make({ url: url as string }), {
        name: "TypeError",
        message: `Invalid option url: ${shown} is not a nats:// URL or a list`,
      });
    }
  }
});

// subscribe() and publish() take options too: a misspelt `since` would silently turn resuming
// off, a misspelt `local` would send presence diffs to every node.
const inbox = { send: () => true };

Deno.test("PubSub.subscribe() and publish() refuse an unknown option name with the nearest one", async () => {
  const pubsub = new PubSub<string>();
  assert.throws(
    () => pubsub.subscribe("t", inbox, { encod: String } as never),
    new TypeError('Unknown option "encod": did you mean "encode"?'),
  );
  assert.throws(
    () => pubsub.subscribe("t", inbox, [] as never),
    new TypeError("Invalid PubSub.subscribe() options: [] is not an object"),
  );
  await pubsub.subscribe("t", { ...inbox, sendFrame: () => true }, { encode: String });
  assert.throws(
    () => pubsub.publish("t", "m", { locla: true } as never),
    new TypeError('Unknown option "locla": did you mean "local"?'),
  );
  assert.deepEqual(pubsub.publish("t", "m", { local: true }), { delivered: 1, dropped: 0 });
  await pubsub.close();
});

Deno.test("HistoryPubSub.subscribe() refuses an unknown option name with the nearest one", async () => {
  const pubsub = new HistoryPubSub<string>();
  assert.throws(
    () => pubsub.subscribe("t", inbox, { sinse: "0" } as never),
    new TypeError('Unknown option "sinse": did you mean "since"?'),
  );
  assert.throws(
    () => pubsub.subscribe("t", inbox, null as never),
    new TypeError("Invalid HistoryPubSub.subscribe() options: null is not an object"),
  );
  await pubsub.subscribe("t", inbox, {});
  await pubsub.close();
});
