// A connection's handle, as `init` receives it: the connection's info and its mailbox.

import type { Connection, ConnectionInfo, RemoteAddr } from "../websock.ts";
import { checkFrame } from "./_decide.ts";

/** What a handle asks of its engine. */
export interface Mailbox<M> {
  send(message: M): boolean;
  sendFrame(data: string | Uint8Array): boolean;
  readonly accepting: boolean;
  onClose(listener: () => void): () => void;
}

export class Handle<M> implements Connection<M> {
  readonly #mailbox: Mailbox<M>;
  readonly #info: ConnectionInfo;

  constructor(mailbox: Mailbox<M>, info: ConnectionInfo) {
    this.#mailbox = mailbox;
    this.#info = info;
  }

  get url(): string {
    return this.#info.url;
  }

  // A getter, so that an adapter can build the headers lazily.
  get headers(): Headers {
    return this.#info.headers;
  }

  get remoteAddr(): RemoteAddr | null {
    return this.#info.remoteAddr;
  }

  get protocol(): string {
    return this.#info.protocol;
  }

  send(message: M): boolean {
    return this.#mailbox.send(message);
  }

  sendFrame(data: string | Uint8Array): boolean {
    if (typeof data !== "string") checkFrame(data);
    return this.#mailbox.sendFrame(data);
  }

  get closed(): boolean {
    return !this.#mailbox.accepting;
  }

  onClose(listener: () => void): () => void {
    return this.#mailbox.onClose(listener);
  }
}
