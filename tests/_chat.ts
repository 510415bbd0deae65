// Runs the chat example (examples/chat/server.ts) as a child `deno serve` process on
// 127.0.0.1, port 0 (or a given port, to restart a server where it was), and reads the port
// it got from its "Listening on" line.
import { type Client, connect } from "./_helpers.ts";
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

/** A chat member: a client that has joined and read its welcome. */
export interface Member {
  readonly client: Client;
  readonly worker: string;
}

/** Join as `name` and return the client with the worker its welcome names. */
export async function join(port: number, name: string): Promise<Member> {
  const client = await connect(`ws://127.0.0.1:${port}/?name=${encodeURIComponent(name)}`);
  const welcome = JSON.parse(String(await client.next()));
  if (welcome.type !== "welcome") throw new Error(`Expected a welcome, got ${welcome.type}`);
  return { client, worker: welcome.worker };
}

/** Read events until one matches (bounded by `max` events), returning what was read. */
export async function readUntil(
  client: Client,
  match: (event: Record<string, unknown>) => boolean,
  max = 1000,
): Promise<Record<string, unknown>[]> {
  const events = [];
  for (let i = 0; i < max; i++) {
    const event = JSON.parse(String(await client.next()));
    events.push(event);
    if (match(event)) return events;
  }
  throw new Error(`No matching event in ${max}`);
}
