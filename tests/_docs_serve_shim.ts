// Preloaded (`deno run --preload`) before a server block of the docs, by tests/docs_test.ts:
// `Deno.serve` listens on 127.0.0.1, port 0, whatever the block asks, and prints
// `{"port":N}` once it listens, so that the test can talk to it and then stop it.

const serve = Deno.serve;
type Handler = Deno.ServeHandler;

function listening({ port }: { port: number }): void {
  console.log(JSON.stringify({ port }));
}

// deno-lint-ignore no-explicit-any
(Deno as any).serve = (...args: unknown[]) => {
  const handler = args.find((a): a is Handler => typeof a === "function");
  const options = args.find((a) => typeof a === "object" && a !== null) as
    | (Deno.ServeOptions & { handler?: Handler })
    | undefined;
  const fetch = handler ?? options?.handler;
  if (!fetch) throw new TypeError("Cannot serve a docs block: no handler given to Deno.serve");
  return serve({ ...options, hostname: "127.0.0.1", port: 0, onListen: listening }, fetch);
};
