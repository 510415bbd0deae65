// One handler, three servers: examples/portable/{deno,node,bun}.ts serve it unchanged.

import { ok, push, type WebSock } from "@websock/websock";

/** Echoes every message, numbered. */
export const Numbered = {
  init: () => ok({ count: 0 }),
  handleIn(data, state) {
    const count = state.count + 1;
    return push(typeof data === "string" ? `${count}: ${data}` : data, { count });
  },
} satisfies WebSock<{ count: number }>;
