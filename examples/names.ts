// Character-level name generation, the tutorial's language-model chapter:
// four models of the next character of an English first name, from a table
// of bigram counts to a small GPT, compared by validation loss in nats per
// character, with ten sampled names from each.
//
//   node --import tsx examples/names.ts [gpt|lstm|mlp|bigram|all] [steps]
//
// The GPT run matches bench/names_gpt_torch.py step for step (same split,
// init and batches); `flint train --task names-gpt` runs the same code.
import { pathToFileURL } from "node:url";
import { type NamesModel, type NamesResult, trainNames } from "../src/cli/tasks/names.js";

export async function namesExample(models: NamesModel[], steps?: number): Promise<NamesResult[]> {
  const results: NamesResult[] = [];
  for (const model of models) {
    const r = await trainNames({
      model,
      steps,
      log: (l) => console.log(l),
      out: `runs/names-${model}`,
    });
    results.push(r);
  }
  console.log("\nmodel    val nats/char  parameters  seconds");
  for (const r of results)
    console.log(
      `${r.model.padEnd(8)} ${r.valLoss.toFixed(4).padStart(13)}  ${String(r.parameters).padStart(10)}  ${r.seconds.toFixed(1).padStart(7)}`,
    );
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const which = process.argv[2] ?? "all";
  const models: NamesModel[] =
    which === "all" ? ["bigram", "mlp", "lstm", "gpt"] : [which as NamesModel];
  await namesExample(models, process.argv[3] ? Number(process.argv[3]) : undefined);
}
