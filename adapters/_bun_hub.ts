// Bun's native topics (`ws.subscribe` + `server.publish`) as the engine's NativeHub, for
// pub/sub's fastlane (one hub per server), and the compression rule every Bun send follows.

import type { NativeHub } from "../engine/mod.ts";
import type { BunServer } from "./_bun_api.ts";

// Messages at least this long are sent compressed when permessage-deflate is on (the
// threshold of `ws`, so both adapters compress the same messages).
export const COMPRESS_FROM = 1024;

// One server's native topics, and what its sockets share: the slow-peer limit and whether to
// compress. The flag is always given to `server.publish`, as to `send`: the same messages are
// compressed whichever way they go.
export interface BunHub extends NativeHub {
  readonly limit: number;
  readonly compress: boolean;
}

export function bunHub(server: BunServer, limit: number, compress: boolean): BunHub {
  return {
    limit,
    compress,
    publish(topic, data) {
      const size = typeof data === "string" ? data.length : data.byteLength;
      server.publish(topic, data, compress && size >= COMPRESS_FROM);
    },
  };
}

// The hub of each server an adapter's connections come from, made on first use.
export function bunHubs(limit: number, compress: boolean): (server: BunServer) => BunHub {
  const hubs = new WeakMap<BunServer, BunHub>();
  return (server) => {
    let hub = hubs.get(server);
    if (hub === undefined) hubs.set(server, hub = bunHub(server, limit, compress));
    return hub;
  };
}
