// A per-epoch progress bar (cli-progress) showing loss, accuracy, samples/s
// and ETA; on a non-TTY (CI, pipes) it stays silent and the trainer prints
// one summary line per epoch instead.
import cliProgress from "cli-progress";

export interface EpochBar {
  update(done: number, values: { loss: number; acc: number; rate: number }): void;
  stop(): void;
}

export function epochBar(
  epoch: number,
  epochs: number,
  batches: number,
  enabled: boolean,
): EpochBar {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `epoch ${epoch}/${epochs} {bar} {value}/{total} | loss {loss} | acc {acc} | {rate} samples/s | ETA {eta_formatted}`,
      barCompleteChar: "█",
      barIncompleteChar: "░",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(batches, 0, { loss: "-", acc: "-", rate: "-" });
  return {
    update(done, v) {
      bar.update(done, {
        loss: v.loss.toFixed(4),
        acc: `${(v.acc * 100).toFixed(1)}%`,
        rate: Math.round(v.rate),
      });
    },
    stop() {
      bar.stop();
    },
  };
}
