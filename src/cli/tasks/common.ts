// Shared pieces of the sequence tasks: seeded splits, a step progress bar,
// and the log/checkpoint options every task takes.
import cliProgress from "cli-progress";
import { Generator } from "../../random.js";
import { randperm } from "../../tensor/creation.js";

export interface TaskOptions {
  /** Random seed for the split, init and batches (42). */
  seed?: number;
  /** Output folder for the checkpoint and figures (none: nothing is written). */
  out?: string;
  /** Show a progress bar (TTY only). */
  progress?: boolean;
  /** Receives the progress lines (silent by default). */
  log?: (line: string) => void;
}

/** The items in randperm(n, seed) order, cut at the given fractions (torch.randperm's order for the seed). */
export function seededSplit<T>(
  items: readonly T[],
  fractions: readonly number[],
  seed: number,
): T[][] {
  const perm = Array.from(
    randperm(items.length, {
      generator: new Generator().manualSeed(seed),
    }).dataSync() as Int32Array,
  );
  const out: T[][] = [];
  let start = 0;
  fractions.forEach((f, i) => {
    const end = i === fractions.length - 1 ? items.length : start + Math.floor(f * items.length);
    out.push(perm.slice(start, end).map((j) => items[j]!));
    start = end;
  });
  return out;
}

export interface StepBar {
  update(step: number, values: Record<string, string | number>): void;
  stop(): void;
}

/** A bar over training steps showing the running loss; silent when disabled or off a TTY. */
export function stepBar(title: string, total: number, enabled: boolean): StepBar {
  if (!enabled || !process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} {bar} {value}/{total} | loss {loss} | {rate} steps/s | ETA {eta_formatted}`,
      barCompleteChar: "█",
      barIncompleteChar: "░",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { loss: "-", rate: "-" });
  return {
    update(step, values) {
      bar.update(step, values);
    },
    stop() {
      bar.stop();
    },
  };
}

/** Levenshtein distance between two token sequences. */
export function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur.push(
        Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)),
      );
    prev = cur;
  }
  return prev[b.length]!;
}
