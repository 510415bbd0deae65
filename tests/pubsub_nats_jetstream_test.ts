import assert from "node:assert/strict";
import { JetStreamBackend } from "../pubsub/nats_jetstream.ts";
import { historyContract } from "./_history_contract.ts";
import { HAS_NATS, startNats, warnWithoutNats } from "./_nats.ts";

warnWithoutNats("pubsub_nats_jetstream_test.ts");

// The same suite as RedisStreamsBackend's (tests/_history_contract.ts), on a nats-server -js.
historyContract({
  backend: "JetStreamBackend",
  over: "JetStream",
  ignore: !HAS_NATS,
  start: () => startNats(), // the store is kept across a restart unless wiped
  url: (port) => `nats://127.0.0.1:${port}`,
  make: (url, options) => new JetStreamBackend({ url, ...options }),
  exactTrim: true,
  downReport: /^NATS JetStream connection to nats:\/\/127\.0\.0\.1:\d+ failed: .+; reconnecting$/,
  unreachable: /^Cannot publish to room: NATS at nats:\/\/127\.0\.0\.1:\d+ is unreachable$/,
});

Deno.test("JetStreamBackend rejects bad options with errors naming the value", () => {
  assert.throws(() => new JetStreamBackend({ url: "redis://x" }), {
    name: "TypeError",
    message: 'Invalid option url: "redis://x" is not a nats:// URL or a list',
  });
  assert.throws(() => new JetStreamBackend({ maxLength: 0 }), {
    name: "RangeError",
    message: "Invalid option maxLength: 0 is not an integer >= 1",
  });
  assert.throws(() => new JetStreamBackend({ maxAge: 1.5 }), {
    name: "RangeError",
    message: "Invalid option maxAge: 1.5 is not an integer >= 0",
  });
  assert.throws(() => new JetStreamBackend({ replicas: 7 }), {
    name: "RangeError",
    message: "Invalid option replicas: 7 is not an integer from 1 to 5",
  });
  assert.throws(() => new JetStreamBackend({ storage: "disk" as "file" }), {
    name: "TypeError",
    message: 'Invalid option storage: "disk" is not "file" or "memory"',
  });
  // The engine's checkInteger: a value that is not a number is a TypeError that quotes it.
  assert.throws(() => new JetStreamBackend({ maxLength: "5" as never }), {
    name: "TypeError",
    message: 'Invalid option maxLength: "5" is not a number',
  });
});
