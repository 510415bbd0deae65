// Runs the chat example (examples/chat/server.ts) as a child `deno serve` process on
// 127.0.0.1, port 0 (or a given port, to restart a server where it was), and reads the port
// it got from its "Listening on" line.
import { disconnect, outcome, phoenixSocket, type Socket, until } from "./_phoenix.ts";

export { until };
import { type Channel, Presence } from "npm:phoenix@1.8.16";
import { awaitStderr } from "./_stderr.ts";

const SERVER = new URL("../examples/chat/server.ts", import.meta.url).pathname;

export interface ChatServer extends AsyncDisposable {
  readonly port: number;
  readonly origin: string;
}

/**
 * Start the chat server; `env` picks the backend (REDIS_URL, PUBSUB=broadcast) and the
 * keep-alive (CHAT_TIMEOUT_MS). Disposing it kills it (SIGKILL: a crash, as clients see it).
 */
export function startChat(
  options: { env?: Record<string, string>; parallel?: number; port?: number } = {},
): Promise<ChatServer> {
  return startServe(SERVER, options);
}

/** Start `deno serve` on a module (its `export default`), as {@linkcode startChat} does. */
export async function startServe(
  server: string,
  { env = {}, parallel = 0, port = 0 }: {
    env?: Record<string, string>;
    parallel?: number;
    port?: number;
  } = {},
): Promise<ChatServer> {
  const args = ["serve", "--host", "127.0.0.1", "--port", String(port), "-A"];
  if (parallel > 0) args.push("--parallel");
  args.push(server);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { ...env, NO_COLOR: "1", ...(parallel > 0 ? { DENO_JOBS: String(parallel) } : {}) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { match, drained } = await awaitStderr(
    child,
    /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
    20_000,
    server,
  );
  const bound = Number(match[1]);
  return {
    port: bound,
    origin: `http://127.0.0.1:${bound}`,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await drained;
    },
  };
}

/** A chat member: a phoenix client joined to a room, with what it received. */
export interface Member {
  readonly socket: Socket;
  /** The session it joined with. */
  readonly session: string;
  readonly channel: Channel;
  /** The node (process or worker) its presence meta names. */
  readonly node: string;
  /** The messages received, in order. */
  readonly messages: { name: string; text: string; at: number }[];
  /** The names online in the room, as the client's Presence lists them. */
  online(): string[];
  close(): Promise<void>;
}

/** Join `room` as `name` (a fresh session unless given); throws with the reason if refused. */
export async function join(
  port: number,
  name: string,
  { room = "lobby", session = crypto.randomUUID() as string, since = "-:0" }: {
    room?: string;
    session?: string;
    since?: string;
  } = {},
): Promise<Member> {
  const socket = phoenixSocket(`ws://127.0.0.1:${port}/socket`, { params: { name, session } });
  socket.connect();
  const channel = socket.channel(`room:${room}`, { since });
  const presence = new Presence(channel);
  const messages: Member["messages"] = [];
  channel.on("message", (m: Member["messages"][number]) => messages.push(m));
  const joined = await outcome(channel.join());
  if (joined.status !== "ok") {
    await disconnect(socket);
    throw new Error(`Refused: ${(joined.response as { reason?: string })?.reason}`);
  }
  await until(() => presence.list().length > 0, "the presence state");
  const mine = presence.list((
    who: string,
    { metas }: { metas: { session: string; node: string }[] },
  ) => who === name ? metas.find((m) => m.session === session)?.node : undefined).find((
    n: string | undefined,
  ) => n !== undefined);
  return {
    socket,
    session,
    channel,
    node: String(mine),
    messages,
    online: () => presence.list((who: string) => who).sort(),
    close: () => disconnect(socket),
  };
}
