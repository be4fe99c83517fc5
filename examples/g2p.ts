// Grapheme-to-phoneme on CMUdict, the tutorial's attention chapter: a GRU
// encoder–decoder with Bahdanau attention learns to pronounce words,
// trained with teacher forcing and decoded greedily; it reports the
// phoneme error rate on held-out words and draws one attention matrix
// (runs/g2p/attention.svg): which letters each phoneme looked at.
//
//   node --import tsx examples/g2p.ts [words] [epochs]
import { pathToFileURL } from "node:url";
import { beamPhonemes, G2PModel, g2pData, trainG2P } from "../src/cli/tasks/g2p.js";

export { beamPhonemes, G2PModel, g2pData, trainG2P };

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const size = process.argv[2] ? Number(process.argv[2]) : undefined;
  const epochs = process.argv[3] ? Number(process.argv[3]) : undefined;
  const r = await trainG2P({ size, epochs, log: (l) => console.log(l), out: "runs/g2p" });
  console.log(`phoneme error rate ${(r.per * 100).toFixed(2)}% on ${r.testWords} held-out words`);
}
