// Prometheus text exposition format 0.0.4: one metric family at a time, with HELP and TYPE.

/** One sample: labels (in order) and a value. */
export type Sample = readonly [labels: readonly (readonly [string, string])[], value: number];

/** A fixed-bucket histogram: upper bounds, the count in each bucket (not cumulative), sum. */
export interface Buckets {
  readonly bounds: readonly number[];
  readonly counts: ArrayLike<number>; // bounds.length + 1: the last is above every bound
  readonly sum: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A float as the format writes it: `+Inf`, `-Inf`, `NaN`, or JavaScript's shortest form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function labelSet(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",")}}`;
}

/** Accumulates metric families into the text format. */
export class Exposition {
  readonly #lines: string[] = [];

  /** A counter or gauge family. */
  family(name: string, type: "counter" | "gauge", help: string, samples: Sample[]): void {
    this.#header(name, type, help);
    for (const [labels, value] of samples) {
      this.#lines.push(`${name}${labelSet(labels)} ${formatValue(value)}`);
    }
  }

  /** A histogram family: one histogram per label set. */
  histogram(
    name: string,
    help: string,
    series: readonly (readonly [readonly (readonly [string, string])[], Buckets])[],
  ): void {
    this.#header(name, "histogram", help);
    for (const [labels, { bounds, counts, sum }] of series) {
      let cumulative = 0;
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += counts[i];
        const le = i < bounds.length ? formatValue(bounds[i]) : "+Inf";
        this.#lines.push(
          `${name}_bucket${labelSet([...labels, ["le", le]])} ${formatValue(cumulative)}`,
        );
      }
      this.#lines.push(`${name}_sum${labelSet(labels)} ${formatValue(sum)}`);
      this.#lines.push(`${name}_count${labelSet(labels)} ${formatValue(cumulative)}`);
    }
  }

  #header(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  /** The exposition, ending with a newline. */
  toString(): string {
    return this.#lines.join("\n") + "\n";
  }
}
