// Churn memory: batches of connect / echo one message / close cycles against one bench server,
// with its RSS and JS heap (after a forced GC, its /stats route) after each batch. Growth in
// the first batch only is the allocator warming up; growth batch after batch is a leak.
//
//   deno run -A bench/churn_rss.ts websock-bun bun-raw --batches=4 --cycles=20000
//
// Contestants: those of bench/bun_server.ts (bun-raw, websock-bun) and bench/server.ts (raw,
// websock, ...). Four clients in this process, one cycle each at a time; 127.0.0.1 only.

const here = new URL(".", import.meta.url).pathname;
const bun = Deno.env.get("BUN") ?? `${here}../node_modules/.bin/bun`;
const flag = (name: string, fallback: number): number =>
  Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const batches = flag("batches", 4);
const cycles = flag("cycles", 20_000);
const names = Deno.args.filter((a) => !a.startsWith("--"));

async function start(name: string) {
  const args = name.includes("bun")
    ? [bun, [`${here}bun_server.ts`, name]] as const
    : [Deno.execPath(), ["run", "-A", "--v8-flags=--expose-gc", `${here}server.ts`, name]] as const;
  const child = new Deno.Command(args[0], { args: [...args[1]], stdin: "piped", stdout: "piped" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${name} exited before it listened`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, port: JSON.parse(text.slice(0, text.indexOf("\n"))).port as number };
}

async function churn(port: number, n: number): Promise<void> {
  let started = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
      socket.onopen = () => socket.send("x");
      socket.onmessage = () => socket.close(1000);
      socket.onclose = () => resolve();
      socket.onerror = () => reject(new Error("WebSocket error"));
    });
  const worker = async () => {
    while (started < n) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
for (const name of names) {
  const { child, port } = await start(name);
  const stats = async () => await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
  const rows = [`${name}: start ${mib((await stats()).rss)} MiB`];
  for (let batch = 1; batch <= batches; batch++) {
    const t0 = performance.now();
    await churn(port, cycles);
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the last closes finish
    const { rss, heap, count } = await stats();
    rows.push(
      `after ${batch} x ${cycles}: RSS ${mib(rss)} MiB, heap ${mib(heap)} MiB, ` +
        `${count} open, ${Math.round(performance.now() - t0)} ms`,
    );
  }
  console.log(rows.join("\n  "));
  await child.stdin.close();
  await child.status;
}
