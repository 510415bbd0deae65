// A raw TCP client for WebSocket tests: hand-made upgrade requests and frames, for what a
// well-behaved client library will not send. Used by the conformance suite and the tests.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

/** A valid upgrade request, with headers replaced or removed (`null`) as given. */
export function upgradeRequest(
  overrides: Record<string, string | null> = {},
  requestLine = "GET / HTTP/1.1",
): string {
  const headers: Record<string, string | null> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": KEY,
    "Sec-WebSocket-Version": "13",
    ...overrides,
  };
  const lines = Object.entries(headers).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}`);
  return `${requestLine}\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** A raw TCP connection for hand-made requests and frames. */
export class Raw implements Disposable {
  readonly conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Write all of `data` (one `conn.write` may take only part of a large buffer). */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let offset = 0; offset < bytes.byteLength;) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const merged = new Uint8Array(this.#buffer.length + n);
    merged.set(this.#buffer);
    merged.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = merged;
    return true;
  }

  async #take(n: number): Promise<Uint8Array | null> {
    if (this.#buffer.length < n && n > 65536) {
      // A large payload: read straight into it rather than growing the buffer chunk by chunk.
      const out = new Uint8Array(n);
      out.set(this.#buffer);
      let filled = this.#buffer.length;
      this.#buffer = new Uint8Array(0);
      while (filled < n) {
        const read = await this.conn.read(out.subarray(filled));
        if (read === null) return null;
        filled += read;
      }
      return out;
    }
    while (this.#buffer.length < n) if (!await this.#fill()) return null;
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  /** Read an HTTP response head (and a short body, when Content-Length says). */
  async response(): Promise<{ status: number; headers: Headers; body: string }> {
    let end: number;
    while ((end = decoder.decode(this.#buffer).indexOf("\r\n\r\n")) < 0) {
      if (!await this.#fill()) throw new Error("Connection closed before the response");
    }
    const head = decoder.decode(this.#buffer).slice(0, end);
    this.#buffer = this.#buffer.slice(encoder.encode(head).length + 4);
    const [statusLine, ...lines] = head.split("\r\n");
    const headers = new Headers();
    for (const line of lines) {
      const i = line.indexOf(":");
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const length = Number(headers.get("content-length") ?? 0);
    const body = length > 0 ? decoder.decode((await this.#take(length))!) : "";
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  }

  /** Send one masked frame. */
  async frame(opcode: number, payload: Uint8Array | string = new Uint8Array(), fin = true) {
    await this.write(encodeFrame(opcode, payload, { fin, mask: true }));
  }

  /** Read one frame, or null when the connection ended (or nothing came for `waitMs`). */
  async readFrame(
    waitMs?: number,
  ): Promise<{ fin: boolean; rsv1: boolean; opcode: number; payload: Uint8Array } | null> {
    if (waitMs !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((resolve) => timer = setTimeout(resolve, waitMs, null));
      try {
        return await Promise.race([this.readFrame().catch(() => null), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    const head = await this.#take(2);
    if (head === null) return null;
    let length = head[1] & 0x7f;
    if (length === 126) {
      const ext = (await this.#take(2))!;
      length = (ext[0] << 8) | ext[1];
    } else if (length === 127) {
      const ext = (await this.#take(8))!;
      length = Number(new DataView(ext.buffer).getBigUint64(0));
    }
    const payload = (await this.#take(length)) ?? new Uint8Array();
    return {
      fin: (head[0] & 0x80) !== 0,
      rsv1: (head[0] & 0x40) !== 0,
      opcode: head[0] & 0x0f,
      payload,
    };
  }

  /** Read frames until a close frame; returns its code and reason (or null at EOF). */
  async readClose(): Promise<{ code: number; reason: string } | null> {
    for (;;) {
      const frame = await this.readFrame();
      if (frame === null) return null;
      if (frame.opcode === 8) {
        const p = frame.payload;
        return p.length >= 2
          ? { code: (p[0] << 8) | p[1], reason: decoder.decode(p.subarray(2)) }
          : { code: 1005, reason: "" };
      }
    }
  }

  /** Read until the server closes the TCP connection. */
  async drain(): Promise<void> {
    try {
      while (await this.#fill()) this.#buffer = new Uint8Array(0);
    } catch {
      // reset by peer
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Encode one frame; clients mask. `rsv1` marks a permessage-deflate (compressed) message. */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array | string,
  { fin = true, mask = true, rsv1 = false }: { fin?: boolean; mask?: boolean; rsv1?: boolean } = {},
): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const lengthBytes = data.length < 126 ? 0 : data.length < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + (mask ? 4 : 0) + data.length);
  out[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  out[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? data.length : lengthBytes === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(2, data.length);
  if (lengthBytes === 8) view.setBigUint64(2, BigInt(data.length));
  let offset = 2 + lengthBytes;
  if (mask) {
    const key = [0x12, 0x34, 0x56, 0x78];
    out.set(key, offset);
    offset += 4;
    for (let i = 0; i < data.length; i++) out[offset + i] = data[i] ^ key[i & 3];
  } else out.set(data, offset);
  return out;
}

/** A close frame payload. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const r = encoder.encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}
