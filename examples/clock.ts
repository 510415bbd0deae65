// A clock: every connection gets the time once a second from a timer, through its mailbox
// (handleInfo). Send "stop" to be disconnected politely.
// Run: deno run --allow-net --allow-env examples/clock.ts
import { push, stop, type WebSock } from "@websock/websock";
import { websockHandler } from "@websock/websock/deno";

type Tick = { type: "tick"; at: Date };
type State = { timer: ReturnType<typeof setInterval>; ticks: number };

export const Clock = {
  init(_arg, connection) {
    const timer = setInterval(() => connection.send({ type: "tick", at: new Date() }), 1000);
    return push("connected", { timer, ticks: 0 });
  },
  handleIn(data, state) {
    if (data === "stop") return stop("normal", state, { code: 1000, reason: "bye" });
    return push(`you said ${typeof data === "string" ? data : `${data.byteLength} bytes`}`, state);
  },
  handleInfo(message, state) {
    return push(message.at.toISOString(), { ...state, ticks: state.ticks + 1 });
  },
  terminate(_reason, state) {
    clearInterval(state.timer);
  },
} satisfies WebSock<State, Tick>;

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const hostname = Deno.env.get("HOSTNAME") ?? "127.0.0.1";
  Deno.serve({ port, hostname }, websockHandler(Clock, { origins: "*" }));
}
