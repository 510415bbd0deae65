// Must compile: handlers and calls as people write them. Checked by `deno task check` and by
// tests/types_test.ts (`deno check`, zero errors). Its twin, must_not_compile.md, holds the
// mistakes that must not compile, each with the TypeScript error it must raise.

import { type Connection, ok, push, stop, type WebSock } from "@websock/websock";
import {
  type OptionsArgs,
  Registry,
  upgrade,
  websockHandler,
  type WebSockHandlerOptions,
} from "@websock/websock/deno";
import { serve, websockUpgrade } from "@websock/websock/node";
import { websockServe } from "@websock/websock/bun";
import { TestConnection } from "@websock/websock/testing";

declare const request: Request;

// `satisfies WebSock<State>` accepts an init that takes an argument (issue 12: was TS2322).
export const Named = {
  init: (user: string) => ok({ user }),
  handleIn: (_data, state) => ok(state),
  handleInfo: (_message, state) => ok(state),
} satisfies WebSock<{ user: string }>;

// handleInfo is optional.
export const Echo = {
  init: () => ok(null),
  handleIn: (data, state) => push(data, state),
} satisfies WebSock<null>;

// Mail: M names what handleInfo gets; connection.send takes exactly that.
export const Ticker = {
  init(start: number, connection) {
    connection.send({ tick: start });
    return ok({ ticks: start, connection });
  },
  handleIn: (_data, state) => ok(state),
  handleInfo: (message, state) => push(`tick ${message.tick}`, { ...state, ticks: message.tick }),
} satisfies WebSock<{ ticks: number; connection: Connection<{ tick: number }> }, { tick: number }>;

// The argument's type flows to upgrade()'s arg and to the upgrade hook's return.
upgrade(request, Named, "ann");
upgrade(request, Named, "ann", { registry: new Registry() });
upgrade(request, Ticker, 5);
// init takes no argument: upgrade() needs none (issue 12: was TS2554).
upgrade(request, Echo);
upgrade(request, Echo, undefined, { registry: new Registry(), headers: { "set-cookie": "a=1" } });

websockHandler(Echo);
websockHandler(Echo, { timeout: 5_000 });
websockHandler(Named, {
  upgrade: (req) =>
    new URL(req.url).searchParams.get("user") ?? new Response(null, { status: 401 }),
});
websockHandler(Named, { upgrade: async () => await Promise.resolve("ann") });
websockHandler(Ticker, { upgrade: () => 1, onConnection: (c) => c.send({ tick: 2 }) });

// The other adapters take the same shapes.
websockUpgrade(Echo);
websockUpgrade(Named, { upgrade: () => "ann", perMessageDeflate: true });
serve(Echo, { port: 0 });
serve(Named, { port: 0, upgrade: () => "ann" });
websockServe(Echo);
websockServe(Named, { upgrade: () => "ann", perMessageDeflate: true });

// An init whose argument is optional or unknown: the argument may be left out.
const Optional = {
  init: (room?: string) => ok({ room: room ?? "lobby" }),
  handleIn: (_data, state) => ok(state),
} satisfies WebSock<{ room: string }>;
upgrade(request, Optional);
upgrade(request, Optional, "kitchen");
websockHandler(Optional);

// Inline handlers: state, argument and connection inferred without annotations.
websockHandler({
  init: (name: string) => ok({ name, said: 0 }),
  handleIn: (data, state) =>
    push(`${state.name}: ${String(data)}`, { ...state, said: state.said + 1 }),
  terminate: (_reason, state) => void state.said,
}, { upgrade: () => "ann" });
websockHandler({
  init: (name) => ok({ name }),
  handleIn: (_data, state) => ok(state),
}, { upgrade: (req: Request) => req.url });
websockHandler({
  init: () => ok({ count: 0 }),
  handleIn: (_data, state) =>
    state.count > 9 ? stop("normal", state) : ok({ count: state.count + 1 }),
});
upgrade(request, {
  init: (room: string) => ok({ room }),
  handleIn: (_data, state) => ok({ room: state.room.toUpperCase() }),
}, "lobby");

// Annotated handlers name all three type parameters.
export const Annotated: WebSock<{ n: number }, string, string> = {
  init: (arg) => ok({ n: arg.length }),
  handleIn: (_data, state) => ok(state),
  handleInfo: (message, state) => ok({ n: state.n + message.length }),
};
upgrade(request, Annotated, "x");

// Method-style handlers (a class works too).
class Counter implements WebSock<number, never, number> {
  init(start: number) {
    return ok(start);
  }
  handleIn(_data: string | Uint8Array, n: number) {
    return ok(n + 1);
  }
}
upgrade(request, new Counter(), 1);

// TestConnection: arg required exactly when init takes one.
await TestConnection.start(Echo);
await TestConnection.start(Echo, { timeout: 0 });
await TestConnection.start(Named, { arg: "ann" });
const ticker = await TestConnection.start(Ticker, { arg: 1 });
await ticker.info({ tick: 2 });

// A generic wrapper passes the options tuple on as it is.
export function logged<S, M, A>(
  handler: WebSock<S, M, A>,
  ...options: OptionsArgs<WebSockHandlerOptions<A, M>, A>
): ReturnType<typeof websockHandler> {
  return websockHandler(handler, ...options);
}
logged(Echo);
logged(Named, { upgrade: () => "ann" });
