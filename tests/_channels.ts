// Shared by the channels tests: a TestConnection that speaks the channel protocol, the way
// the phoenix client does (text frames, v2 JSON), and reads back what the server sent.

import type { Channels, SocketMail, SocketState } from "../channels/mod.ts";
import { decodeMessage, type Message } from "../channels/mod.ts";
import { FakeClock, TestConnection, type TestConnectionOptions } from "../testing/mod.ts";
import type { ConnectArg } from "../channels/mod.ts";

export type ChannelConnection<A> = TestConnection<
  SocketState<A>,
  SocketMail,
  ConnectArg<A> | undefined
>;

/** A client on a TestConnection: refs counted as the phoenix client counts them. */
export class Client<A> {
  readonly conn: ChannelConnection<A>;
  #ref = 0;
  #read = 0;

  constructor(conn: ChannelConnection<A>) {
    this.conn = conn;
  }

  static async start<A>(
    app: Channels<A>,
    options: TestConnectionOptions<ConnectArg<A> | undefined> = {},
  ): Promise<Client<A>> {
    const conn = await TestConnection.start(app, {
      url: "ws://localhost/socket/websocket?vsn=2.0.0",
      clock: new FakeClock(),
      ...options,
    });
    return new Client(conn);
  }

  nextRef(): string {
    return String(++this.#ref);
  }

  /** Send `[joinRef, ref, topic, event, payload]`; returns the ref. */
  async push(
    topic: string,
    event: string,
    payload: unknown = {},
    joinRef: string | null = null,
  ): Promise<string> {
    const ref = this.nextRef();
    await this.conn.receive(JSON.stringify([joinRef, ref, topic, event, payload]));
    return ref;
  }

  /** Join a topic; returns the join ref (which is the join's ref). */
  async join(topic: string, payload: unknown = {}): Promise<string> {
    const ref = this.nextRef();
    await this.conn.receive(JSON.stringify([ref, ref, topic, "phx_join", payload]));
    return ref;
  }

  /** Every message the server sent, decoded. */
  all(): Message[] {
    return this.conn.sent.flatMap((m) =>
      m.type === "text" || m.type === "binary" ? [decodeServer(m.data)] : []
    );
  }

  /** The messages sent since the last call. */
  take(): Message[] {
    const all = this.all();
    const fresh = all.slice(this.#read);
    this.#read = all.length;
    return fresh;
  }

  /** Wait (bounded, by turns of the event loop) until `n` new messages came; take them. */
  async next(n = 1): Promise<Message[]> {
    for (let round = 0; round < 2_000 && this.all().length - this.#read < n; round++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return this.take();
  }
}

/** Decode what a server sent, binary frames included (for assertions). */
export function decodeServer(data: string | Uint8Array): Message {
  if (typeof data === "string") return decodeMessage(data);
  const text = new TextDecoder();
  const kind = data[0];
  if (kind === 2) {
    let o = 3;
    const topic = text.decode(data.subarray(o, o += data[1]));
    const event = text.decode(data.subarray(o, o += data[2]));
    return { joinRef: null, ref: null, topic, event, payload: data.subarray(o) };
  }
  if (kind === 1) {
    let o = 5;
    const joinRef = text.decode(data.subarray(o, o += data[1]));
    const ref = text.decode(data.subarray(o, o += data[2]));
    const topic = text.decode(data.subarray(o, o += data[3]));
    const status = text.decode(data.subarray(o, o += data[4]));
    return {
      joinRef,
      ref,
      topic,
      event: "phx_reply",
      payload: { status, response: data.subarray(o) },
    };
  }
  let o = 4;
  const joinRef = text.decode(data.subarray(o, o += data[1]));
  const topic = text.decode(data.subarray(o, o += data[2]));
  const event = text.decode(data.subarray(o, o += data[3]));
  return { joinRef, ref: null, topic, event, payload: data.subarray(o) };
}

/** A reply message, as the tests compare them. */
export function replyOf(
  joinRef: string | null,
  ref: string,
  topic: string,
  status: string,
  response: unknown,
): Message {
  return { joinRef, ref, topic, event: "phx_reply", payload: { status, response } };
}

/** A resolvable promise, for async callbacks that the test releases. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}
