// Spam filtering on the SpamAssassin corpus, the tutorial's text
// classification chapter: word tokens (a capped vocabulary), an Embedding
// and a GRU over each e-mail's subject and first words, a linear layer on
// the GRU's last state; accuracy and F1 on held-out mail.
//
//   node --import tsx examples/spam.ts [epochs]
import { pathToFileURL } from "node:url";
import { trainSpam } from "../src/cli/tasks/spam.js";

export { trainSpam };

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const epochs = process.argv[2] ? Number(process.argv[2]) : undefined;
  const r = await trainSpam({ epochs, log: (l) => console.log(l), out: "runs/spam" });
  console.log(`test accuracy ${(r.test.accuracy * 100).toFixed(2)}%, F1 ${r.test.f1.toFixed(4)}`);
}
