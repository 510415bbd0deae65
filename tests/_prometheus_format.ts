// A checker of the Prometheus text exposition format (version 0.0.4), written from its
// grammar: https://prometheus.io/docs/instrumenting/exposition_formats/ (text-based format).
//
//   exposition = *( line "\n" )                      ; every line ends with "\n"
//   line       = "" | comment | help | type | sample
//   help       = "# HELP " metric_name " " docstring  ; docstring escapes: \\ and \n
//   type       = "# TYPE " metric_name " " ("counter" | "gauge" | "histogram" | "summary" | "untyped")
//   sample     = metric_name [ "{" [ label *( "," label ) [ "," ] ] "}" ] " " value [ " " timestamp ]
//   label      = label_name "=" DQUOTE label_value DQUOTE ; label_value escapes: \\ \" \n
//   metric_name = [a-zA-Z_:][a-zA-Z0-9_:]*   label_name = [a-zA-Z_][a-zA-Z0-9_]*  (not "__"…)
//   value      = a Go float (ParseFloat), "NaN", "+Inf" or "-Inf";  timestamp = an int64 (ms)
//
// And the rules around it: at most one HELP and one TYPE per family, TYPE before the family's
// first sample, a family's lines together, no duplicate series; a histogram `x` has `x_bucket`
// series with an `le` label (increasing, cumulative counts that never decrease, ending with
// `+Inf`), `x_sum` and `x_count`, and its `+Inf` bucket equals `x_count`.

/** One parsed sample. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family: its type, help and samples. */
export interface Family {
  type: string;
  help: string | undefined;
  readonly samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|Inf|inf|NaN)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function fail(lineNumber: number, line: string, why: string): never {
  throw new Error(`Prometheus text, line ${lineNumber}: ${why}: ${JSON.stringify(line)}`);
}

function parseValue(text: string, lineNumber: number, line: string): number {
  if (!FLOAT.test(text)) fail(lineNumber, line, `invalid value ${JSON.stringify(text)}`);
  if (/^[+-]?[Ii]nf$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
  return Number(text);
}

// The family a sample belongs to: a histogram's or summary's suffixed series fold into it.
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base;
  }
  return name;
}

function parseSample(line: string, n: number): ParsedSample {
  let rest = line;
  const name = rest.match(METRIC_NAME)?.[0];
  if (name === undefined) fail(n, line, "no metric name");
  rest = rest.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const label = rest.match(LABEL_NAME)?.[0];
      if (label === undefined) fail(n, line, "bad label name");
      if (label.startsWith("__")) fail(n, line, `reserved label name ${label}`);
      if (label in labels) fail(n, line, `duplicate label ${label}`);
      rest = rest.slice(label.length);
      if (!rest.startsWith('="')) fail(n, line, 'expected =" after a label name');
      rest = rest.slice(2);
      let value = "";
      for (;;) {
        if (rest === "") fail(n, line, "unterminated label value");
        const c = rest[0];
        if (c === '"') break;
        if (c === "\\") {
          const e = rest[1];
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else fail(n, line, `bad escape \\${e} in a label value`);
          rest = rest.slice(2);
        } else {
          value += c;
          rest = rest.slice(1);
        }
      }
      labels[label] = value;
      rest = rest.slice(1);
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) fail(n, line, "expected , or } after a label");
    }
    rest = rest.slice(1);
  }
  const fields = rest.split(" ");
  if (fields[0] !== "" || fields.length < 2 || fields.length > 3) {
    fail(n, line, "expected one space, a value and an optional timestamp");
  }
  const value = parseValue(fields[1], n, line);
  if (fields.length === 3 && !/^-?\d+$/.test(fields[2])) fail(n, line, "bad timestamp");
  return { name, labels, value };
}

/**
 * Check a whole exposition against the grammar and rules above.
 *
 * @returns The families by name.
 * @throws {Error} Naming the first line that breaks a rule.
 */
export function parsePrometheus(text: string): Map<string, Family> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("Prometheus text: no final newline");
  const families = new Map<string, Family>();
  const done = new Set<string>(); // families whose lines are over
  const series = new Set<string>();
  let current: string | undefined;
  const enter = (name: string, n: number, line: string): Family => {
    if (current !== name) {
      if (done.has(name)) fail(n, line, `the lines of ${name} are not together`);
      if (current !== undefined) done.add(current);
      current = name;
    }
    let family = families.get(name);
    if (family === undefined) {
      family = { type: "untyped", help: undefined, samples: [] };
      families.set(name, family);
    }
    return family;
  };
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = line.match(/^# (HELP|TYPE) ([^ ]+) (.*)$/);
      if (m === null) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) fail(n, line, "malformed HELP or TYPE");
        return; // a comment
      }
      const [, keyword, name, rest] = m;
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) fail(n, line, "bad metric name");
      const family = enter(name, n, line);
      if (keyword === "HELP") {
        if (family.help !== undefined) fail(n, line, "second HELP");
        if (/\\[^\\n]|\\$/.test(rest.replace(/\\\\/g, ""))) fail(n, line, "bad escape in HELP");
        family.help = rest;
      } else {
        if (!TYPES.has(rest)) fail(n, line, `unknown type ${rest}`);
        if (family.samples.length > 0 || family.type !== "untyped") {
          fail(n, line, "TYPE after samples or a second TYPE");
        }
        family.type = rest;
      }
      return;
    }
    const sample = parseSample(line, n);
    const family = enter(familyOf(sample.name, families), n, line);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) fail(n, line, "duplicate series");
    series.add(key);
    family.samples.push(sample);
  });
  for (const [name, family] of families) {
    if (family.type === "histogram") checkHistogram(name, family);
    if (family.type === "counter") {
      for (const s of family.samples) {
        if (s.value < 0) throw new Error(`Prometheus text: counter ${s.name} is negative`);
      }
    }
  }
  return families;
}

function checkHistogram(name: string, family: Family): void {
  const groups = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const group = groups.get(key) ?? { buckets: [] };
    groups.set(key, group);
    if (s.name === `${name}_bucket`) {
      if (le === undefined) throw new Error(`Prometheus text: ${name}_bucket without le`);
      group.buckets.push([le === "+Inf" ? Infinity : Number(le), s.value]);
    } else if (s.name === `${name}_sum`) group.sum = s.value;
    else if (s.name === `${name}_count`) group.count = s.value;
    else throw new Error(`Prometheus text: ${s.name} in histogram ${name}`);
  }
  for (const [key, { buckets, sum, count }] of groups) {
    const where = `histogram ${name}${key}`;
    if (sum === undefined || count === undefined) {
      throw new Error(`Prometheus text: ${where} lacks _sum or _count`);
    }
    if (buckets.length === 0 || buckets[buckets.length - 1][0] !== Infinity) {
      throw new Error(`Prometheus text: ${where} does not end with le="+Inf"`);
    }
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i][0] > buckets[i - 1][0]) || buckets[i][1] < buckets[i - 1][1]) {
        throw new Error(`Prometheus text: ${where} buckets are not increasing and cumulative`);
      }
    }
    if (buckets[buckets.length - 1][1] !== count) {
      throw new Error(`Prometheus text: ${where} +Inf bucket is not _count`);
    }
  }
}

/** The value of one series (`name` with exactly `labels`), or undefined. */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      const a = Object.entries(s.labels).sort();
      const b = Object.entries(labels).sort();
      if (JSON.stringify(a) === JSON.stringify(b)) return s.value;
    }
  }
  return undefined;
}
