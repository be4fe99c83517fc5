// `flint train --task <name>`: the sequence tasks (issue 5) — character
// models of first names, grapheme-to-phoneme on CMUdict, spam filtering —
// each trained with progress output and a saved checkpoint.
import { ArgumentError } from "../errors.js";
import { trainG2P } from "./tasks/g2p.js";
import { type NamesModel, trainNames } from "./tasks/names.js";
import { trainSpam } from "./tasks/spam.js";

export const TASKS = [
  "names-bigram",
  "names-mlp",
  "names-lstm",
  "names-gpt",
  "g2p",
  "spam",
] as const;
export type TaskName = (typeof TASKS)[number];

export interface RunTaskOptions {
  /** Optimizer steps (names models). */
  steps?: number;
  /** Epochs (g2p, spam). */
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Output folder (default runs/<task>). */
  out?: string;
  progress?: boolean;
  log?: (line: string) => void;
}

/** Runs one task and returns its summary (what it also logs). */
export async function runTask(
  name: string,
  opts: RunTaskOptions = {},
): Promise<Record<string, unknown>> {
  const common = {
    seed: opts.seed,
    out: opts.out ?? `runs/${name}`,
    progress: opts.progress,
    log: opts.log,
    batchSize: opts.batchSize,
    lr: opts.lr,
  };
  if (name.startsWith("names-") && (TASKS as readonly string[]).includes(name)) {
    const r = await trainNames({
      ...common,
      model: name.slice(6) as NamesModel,
      steps: opts.steps,
    });
    return {
      task: name,
      valLoss: r.valLoss,
      samples: r.samples,
      seconds: r.seconds,
      checkpoint: r.checkpoint,
    };
  }
  if (name === "g2p") {
    const r = await trainG2P({ ...common, epochs: opts.epochs });
    return { task: name, per: r.per, wer: r.wer, seconds: r.seconds, checkpoint: r.checkpoint };
  }
  if (name === "spam") {
    const r = await trainSpam({ ...common, epochs: opts.epochs });
    return { task: name, ...r.test, seconds: r.seconds, checkpoint: r.checkpoint };
  }
  throw new ArgumentError(`train: unknown task "${name}" (expected ${TASKS.join(", ")})`);
}
