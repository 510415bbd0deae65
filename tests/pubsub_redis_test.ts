import { RedisBackend, RedisBackendError } from "../pubsub/redis.ts";
import { backendContract } from "./_backend_contract.ts";
import { until } from "./_helpers.ts";
import { HAS_REDIS, loadingRedis, startRedis, warnWithoutRedis } from "./_redis.ts";

warnWithoutRedis("pubsub_redis_test.ts");

// The same suite as NatsBackend's (tests/_backend_contract.ts), on a redis-server.
backendContract({
  backend: "RedisBackend",
  over: "Redis",
  ignore: !HAS_REDIS,
  start: () => startRedis(),
  make: (url, options) => new RedisBackend({ url, ...options }),
  alike: (url) => new RedisBackend({ url, prefix: "websock:" }),
  report: RedisBackendError,
  label: "Redis pub/sub backend",
  scheme: "redis",
});

Deno.test("RedisBackend.close() while Redis is still loading its data leaves no timer running", async () => {
  // As RedisStreamsBackend's: ioredis's ready check retries on a timer disconnect() leaves.
  await using redis = loadingRedis();
  const backend = new RedisBackend({ url: redis.url });
  const started = backend.start(() => {}, () => {});
  await until(() => redis.infos >= 4, () => `each client's ready check twice, got ${redis.infos}`);
  await backend.close();
  await started;
});
