// The shapes a channels app hands out besides its channels: a socket's state and mail, what
// its upgrade hook gives init, and what the error hook is told.

import type { ConnectionInfo } from "../websock.ts";
import type { ChannelErrorSource } from "./_process.ts";

/** Where the error hook was called from, and for which topic. */
export interface ChannelErrorContext {
  /** The callback that failed. */
  readonly source: ChannelErrorSource;
  /** The channel's topic. */
  readonly topic: string;
  /** The socket's connection. */
  readonly connection: ConnectionInfo;
}

/** What the app's upgrade hook gives `init`: the socket's params, vsn and assigns. */
export interface ConnectArg<A> {
  /** The query string's parameters, `vsn` excluded. */
  readonly params: Readonly<Record<string, string>>;
  /** The serializer version the client asked for (`"2.0.0"`). */
  readonly vsn: string;
  /** What the `connect` hook returned. */
  readonly assigns: A;
}

/** A socket's state, as the handler's callbacks pass it. */
export interface SocketState<A = unknown> {
  /** What the `connect` hook returned. */
  readonly assigns: A;
  /** The socket's connect params. */
  readonly params: Readonly<Record<string, string>>;
  /** The socket's id (the `id` option), or `null`. */
  readonly id: string | null;
  /** The topics joined now. */
  topics(): string[];
}

/** A message of a socket's mailbox: mail for one of its channels, or a heartbeat check. */
export interface SocketMail {
  /** The channel the message is for (or the heartbeat check). */
  readonly target: unknown;
  /** The message. */
  readonly message: unknown;
  /** Whether it is an intercepted broadcast (for `handleOut`). */
  readonly out: boolean;
}
