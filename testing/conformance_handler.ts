/**
 * The handler every adapter serves for the conformance suite (`@websock/websock/conformance`).
 * It is runtime-neutral (it imports only the behaviour), so a server in Node or Bun can serve
 * it unchanged. The suite steers it with text commands; every connection's end is recorded,
 * and a connection to a URL whose path ends in `/reports` receives the records so far as one
 * JSON text message. A connection to a URL with `?tick=<ms>` is told its id (`id:<n>`) at once,
 * without asking, and its mailbox gets a message every `<ms>` (it receives `info:tick`).
 *
 * Commands (text; any other text is echoed, binary is echoed):
 * `id`, `list`, `stop:<reason>`, `close:<code>:<reason>`, `close-after:<code>`,
 * `throw`, `garbage`, `async:<ms>:<tag>`, `hang` (a `handleIn` that never settles),
 * `self:<text>`, `to:<id>:<text>`, `ping`, `pong`, `flood:<count>:<bytes>`.
 *
 * @example Serve it with the Deno adapter
 * ```ts ignore
 * import { ConformanceHandler } from "@websock/websock/conformance-handler";
 * import { websockHandler } from "@websock/websock/deno";
 * Deno.serve({ hostname: "127.0.0.1", port: 0 }, websockHandler(ConformanceHandler));
 * ```
 *
 * @module
 */

import {
  binary,
  type Connection,
  type ControlFrame,
  ok,
  ping,
  pong,
  push,
  type Result,
  stop,
  type TerminateReason,
  text,
  type WebSock,
} from "../mod.ts";

export type {
  BinaryMessage,
  CallbackResult,
  CloseDetail,
  Connection,
  ConnectionInfo,
  ControlFrame,
  ControlMessage,
  OkResult,
  Outbound,
  OutMessage,
  PushResult,
  RemoteAddr,
  Result,
  StopReason,
  StopResult,
  TerminateReason,
  TextMessage,
  WebSock,
} from "../websock.ts";

/** A recorded end of a connection, as the `/reports` connection receives it. */
export interface ConformanceReport {
  /** The connection's id (what the `id` command answers). */
  readonly id: number;
  /** The terminate reason; an error is reduced to its name and message. */
  readonly reason: {
    readonly type: TerminateReason["type"];
    readonly code?: number;
    readonly reason?: string;
    readonly error?: string;
  };
  /** How many messages the connection had handled. */
  readonly handled: number;
}

/** Mailbox messages of the conformance handler. */
export type ConformanceMessage =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "flood"; readonly left: number; readonly bytes: number };

/** The conformance handler's state. */
export interface ConformanceState {
  /** The connection's id. */
  readonly id: number;
  /** Its handle. */
  readonly connection: Connection<ConformanceMessage>;
  /** Messages handled so far. */
  readonly handled: number;
  /** Whether this is a `/reports` connection (its end is not recorded). */
  readonly reporter: boolean;
}

let nextId = 1;
const reports: ConformanceReport[] = [];
const live = new Map<number, Connection<ConformanceMessage>>();
const running = new Set<number>();
const tickers = new Map<number, ReturnType<typeof setInterval>>();

function describe(reason: TerminateReason): ConformanceReport["reason"] {
  if (reason.type !== "error") return reason;
  const error = reason.error;
  return {
    type: "error",
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function command(
  data: string,
  state: ConformanceState,
): Result<ConformanceState> | Promise<Result<ConformanceState>> {
  const [name, ...args] = data.split(":");
  const next = { ...state, handled: state.handled + 1 };
  switch (name) {
    case "id":
      return push(`id:${state.id}`, next);
    case "list":
      return push(["one", text("two"), binary(new Uint8Array([3]))], next);
    case "stop":
      return stop(args.join(":"), next);
    case "close":
      return stop("normal", next, { code: Number(args[0]), reason: args.slice(1).join(":") });
    case "close-after":
      return stop("normal", next, Number(args[0]), ["last-1", "last-2"]);
    case "throw":
      throw new Error("conformance-secret-detail");
    case "hang":
      return new Promise<never>(() => {});
    case "garbage":
      return 42 as unknown as Result<ConformanceState>;
    case "async":
      return (async () => {
        if (running.has(state.id)) return push("overlap!", next);
        running.add(state.id);
        await delay(Number(args[0]));
        running.delete(state.id);
        return push(`async:${args[1]}`, next);
      })();
    case "self":
      state.connection.send({ kind: "text", text: args.join(":") });
      return ok(next);
    case "to": {
      const target = live.get(Number(args[0]));
      const sent = target?.send({ kind: "text", text: `from ${state.id}: ${args.slice(1)}` });
      return push(`sent:${sent ?? false}`, next);
    }
    case "ping":
      return push(ping(new Uint8Array([1, 2, 3])), next);
    case "pong":
      return push(pong(new Uint8Array([4])), next);
    case "flood":
      state.connection.send({ kind: "flood", left: Number(args[0]), bytes: Number(args[1]) });
      return ok(next);
    default:
      return push(data, next);
  }
}

/** The conformance suite's handler. See the module documentation for its commands. */
export const ConformanceHandler: WebSock<ConformanceState, ConformanceMessage> = {
  init(_arg, connection) {
    const id = nextId++;
    const reporter = new URL(connection.url).pathname.endsWith("/reports");
    const state = { id, connection, handled: 0, reporter };
    if (reporter) return push(JSON.stringify(reports), state);
    live.set(id, connection);
    const tick = Number(new URL(connection.url).searchParams.get("tick") ?? 0);
    if (tick > 0) {
      const send = () => connection.send({ kind: "text", text: "tick" });
      tickers.set(id, setInterval(send, tick));
      return push(`id:${id}`, state);
    }
    return ok(state);
  },
  handleIn(data, state) {
    if (running.has(state.id)) return push("overlap!", state);
    if (typeof data !== "string") return push(data, { ...state, handled: state.handled + 1 });
    return command(data, state);
  },
  handleControl(frame: ControlFrame, state) {
    return push(`control:${frame.type}:${[...frame.data].join(",")}`, state);
  },
  handleInfo(message, state) {
    if (running.has(state.id)) return push("overlap!", state);
    if (message.kind === "text") return push(`info:${message.text}`, state);
    if (message.left > 1) {
      state.connection.send({ kind: "flood", left: message.left - 1, bytes: message.bytes });
    }
    return push(new Uint8Array(message.bytes), state);
  },
  terminate(reason, state) {
    live.delete(state.id);
    running.delete(state.id);
    clearInterval(tickers.get(state.id));
    tickers.delete(state.id);
    if (!state.reporter) {
      reports.push({ id: state.id, reason: describe(reason), handled: state.handled });
    }
  },
};
