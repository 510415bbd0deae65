// One socket of a channels app: its channels by topic, the frames of the running callback,
// its limits, its heartbeat, and its id (for `app.disconnect`).

import { type Connection, ok, push, type Result, stop, type TerminateReason } from "../websock.ts";
import type { ChannelErrorContext, ConnectArg, SocketMail, SocketState } from "./socket_state.ts";
import { encodeReply, type Message } from "./serializer.ts";
import type { Broadcast, Hub } from "./_hub.ts";
import { type ChannelErrorSource, ChannelProcess, type Host } from "./_process.ts";
import type { Routes } from "./_routes.ts";
import type { Heartbeats } from "./_heartbeat.ts";
import { utf8Length } from "../engine/utf8_length.ts";
import { showValue } from "../engine/show_value.ts";

/** The mail target of a heartbeat check. */
export const HEARTBEAT: unique symbol = Symbol("heartbeat");
/** The mail target of `app.disconnect`. */
export const DISCONNECT: unique symbol = Symbol("disconnect");

const TOPIC_LIMIT = 255;

/** What every socket of one app shares. */
export interface App {
  readonly routes: Routes;
  readonly hub: Hub;
  readonly heartbeats: Heartbeats;
  readonly maxChannels: number;
  readonly maxQueuedEvents: number;
  readonly onError: (error: unknown, context: ChannelErrorContext) => void;
  readonly id:
    | ((assigns: unknown, params: Readonly<Record<string, string>>) => unknown)
    | undefined;
}

const UNMATCHED = { reason: "unmatched topic" };

// One socket: its channels by topic, the frames of the running callback, its limits.
export class Sock implements SocketState<unknown>, Host {
  readonly app: App;
  readonly connection: Connection<SocketMail>;
  readonly assigns: unknown;
  readonly params: Readonly<Record<string, string>>;
  readonly channels = new Map<string, ChannelProcess>();
  #ending: Set<ChannelProcess> | undefined = undefined;
  #collecting = false;
  #out: (string | Uint8Array)[] | undefined = undefined;
  #queued = 0;
  overflow = false;
  lastHeartbeat: number;
  /** The socket's id (the `id` option), or `null`. */
  id: string | null = null;

  constructor(app: App, connection: Connection<SocketMail>, arg: ConnectArg<unknown>) {
    this.app = app;
    this.connection = connection;
    this.assigns = arg.assigns;
    this.params = arg.params;
    this.lastHeartbeat = app.heartbeats.now;
  }

  get hub(): Hub {
    return this.app.hub;
  }

  topics(): string[] {
    return [...this.channels.keys()];
  }

  /** A message from the client: dispatch it; the frames it made, to push in one result. */
  receive(m: Message): (string | Uint8Array)[] | undefined {
    this.#collecting = true;
    try {
      this.dispatch(m);
    } finally {
      this.#collecting = false;
    }
    return this.#collected();
  }

  /** Mail for one of its channels: hand it over; the frames it made. */
  deliver(
    target: ChannelProcess,
    message: unknown,
    out: boolean,
  ): (string | Uint8Array)[] | undefined {
    this.#collecting = true;
    try {
      target.info(message, out);
    } finally {
      this.#collecting = false;
    }
    return this.#collected();
  }

  #collected(): (string | Uint8Array)[] | undefined {
    const out = this.#out;
    this.#out = undefined;
    return out;
  }

  emit(frame: string | Uint8Array): boolean {
    if (this.#collecting) {
      (this.#out ??= []).push(frame);
      return true;
    }
    return this.connection.sendFrame(frame);
  }

  mail(target: ChannelProcess, message: unknown, out: boolean): boolean {
    return this.connection.send({ target, message, out });
  }

  /** Take the socket's id and subscribe to it: a "disconnect" broadcast closes the socket. */
  identify(id: unknown): void {
    if (id === null || id === undefined) return;
    if (typeof id !== "string" || id === "") {
      throw new TypeError(`Invalid socket id: ${showValue(id)} is not a non-empty string`);
    }
    this.id = id;
    const connection = this.connection;
    const subscriber = {
      send(message: unknown): boolean {
        const m = message as { type?: string; message?: Broadcast; event?: string };
        const event = m.type === "message" ? m.message?.event : m.event;
        if (event === "disconnect") {
          connection.send({ target: DISCONNECT, message: undefined, out: false });
        }
        return true;
      },
      get closed(): boolean {
        return connection.closed;
      },
      onClose: (listener: () => void) => connection.onClose(listener),
    };
    this.app.hub.pubsub.subscribe(id, subscriber);
  }

  expire(): void {
    this.connection.send({ target: HEARTBEAT, message: undefined, out: false });
  }

  hold(): boolean {
    if (this.#queued >= this.app.maxQueuedEvents) {
      this.overflow = true;
      return false;
    }
    this.#queued++;
    return true;
  }

  release(n: number): void {
    this.#queued -= n;
  }

  forget(process: ChannelProcess): void {
    if (this.channels.get(process.topic) === process) this.channels.delete(process.topic);
    (this.#ending ??= new Set()).add(process);
  }

  gone(process: ChannelProcess): void {
    this.#ending?.delete(process);
  }

  get size(): number {
    return this.channels.size + (this.#ending?.size ?? 0);
  }

  report(error: unknown, source: ChannelErrorSource, topic: string): void {
    try {
      this.app.onError(error, { source, topic, connection: this.connection });
    } catch {
      // An error hook that throws must not take the socket down.
    }
  }

  dispatch(m: Message): void {
    const { topic, event, ref } = m;
    if (topic === "phoenix" && event === "heartbeat") {
      this.lastHeartbeat = this.app.heartbeats.now;
      this.emit(encodeReply(null, ref, "phoenix", "ok", {}));
      return;
    }
    const channel = this.channels.get(topic);
    switch (event) {
      case "phx_join":
        return this.#join(m, channel);
      case "phx_leave":
        if (channel === undefined) this.emit(encodeReply(m.joinRef, ref, topic, "ok", {}));
        else channel.leave(ref);
        return;
      case "phx_reply":
      case "phx_error":
      case "phx_close":
        this.emit(encodeReply(m.joinRef, ref, topic, "error", { reason: "reserved event" }));
        return;
    }
    if (channel === undefined) this.emit(encodeReply(null, ref, topic, "error", UNMATCHED));
    else channel.in(event, m.payload, ref);
  }

  #join(m: Message, existing: ChannelProcess | undefined): void {
    const { topic, ref } = m;
    const joinRef = m.joinRef ?? ref;
    existing?.replace();
    const definition = this.app.routes.match(topic);
    let refusal: string | undefined;
    if (definition === undefined) refusal = "unmatched topic";
    else if (utf8Length(topic) > TOPIC_LIMIT) refusal = "topic too long";
    else if (this.size >= this.app.maxChannels) refusal = "too many channels";
    if (refusal !== undefined) {
      this.emit(encodeReply(joinRef, ref, topic, "error", { reason: refusal }));
      return;
    }
    const process = new ChannelProcess(this, definition!, topic, joinRef);
    this.channels.set(topic, process);
    process.join(m.payload, ref);
  }

  // The socket ended: every channel ends; wait for the terminates still running.
  close(reason: TerminateReason): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    const end = { type: "closed", reason } as const;
    for (const process of [...this.channels.values(), ...(this.#ending ?? [])]) {
      const finished = process.close(end);
      if (finished !== undefined) (waits ??= []).push(finished);
    }
    return waits && Promise.all(waits).then(() => {});
  }
}

// The result of a socket callback: the frames its channels emitted, or the overflow's close.
export function frames<S>(state: S, out: (string | Uint8Array)[] | undefined): Result<S> {
  if ((state as unknown as Sock).overflow) {
    return stop(
      "too many queued events",
      state,
      { code: 1013, reason: "Too many queued events" },
      out,
    );
  }
  return out === undefined ? ok(state) : push(out, state);
}
