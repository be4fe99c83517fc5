/**
 * Line charts as standalone SVG text (training curves: loss and accuracy
 * per epoch). No dependencies, so it works wherever the trainer runs.
 */
export interface Series {
  name: string;
  values: number[];
  color?: string;
}

export interface ChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

function niceTicks(min: number, max: number, count: number): number[] {
  if (!(max > min)) {
    max = min + 1;
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** One chart with several series over a shared x axis (1-based epochs). */
export function lineChart(series: Series[], opts: ChartOptions): string {
  const W = opts.width ?? 480;
  const H = opts.height ?? 300;
  // The legend sits in its own row under the title, never over the curves.
  const m = { left: 56, right: 16, top: 48, bottom: 44 };
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const x = (i: number) => m.left + (n === 1 ? 0.5 : i / (n - 1)) * (W - m.left - m.right);
  const y = (v: number) => m.top + (1 - (v - lo) / (hi - lo)) * (H - m.top - m.bottom);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(opts.title)}</text>`,
  );
  for (const t of niceTicks(lo, hi, 5)) {
    if (t < lo || t > hi) continue;
    parts.push(
      `<line x1="${m.left}" x2="${W - m.right}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  const xticks = niceTicks(1, n, Math.min(n, 8)).filter(
    (t) => Number.isInteger(t) && t >= 1 && t <= n,
  );
  for (const t of xticks)
    parts.push(`<text x="${x(t - 1)}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  parts.push(
    `<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="#333"/>`,
  );
  parts.push(
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="#333"/>`,
  );
  if (opts.xLabel)
    parts.push(
      `<text x="${(W + m.left) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel) {
    parts.push(
      `<text transform="translate(14 ${(H - m.bottom + m.top) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    );
  }
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length]!;
    const pts = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null))
      .filter(Boolean);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
    );
    for (const p of pts) {
      const [px, py] = p!.split(",");
      parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${color}"/>`);
    }
    const lx = m.left + k * 110;
    const ly = 34;
    parts.push(
      `<line x1="${lx}" x2="${lx + 16}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${lx + 20}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Two charts side by side in one SVG: loss on the left, accuracy on the right. */
export function trainingCurves(
  history: { trainLoss: number[]; valLoss: number[]; trainAcc: number[]; valAcc: number[] },
  title: string,
): string {
  const left = lineChart(
    [
      { name: "train loss", values: history.trainLoss },
      { name: "val loss", values: history.valLoss },
    ],
    { title: `${title}: loss`, xLabel: "epoch", yLabel: "cross-entropy" },
  );
  const right = lineChart(
    [
      { name: "train acc", values: history.trainAcc },
      { name: "val acc", values: history.valAcc },
    ],
    { title: `${title}: accuracy`, xLabel: "epoch", yLabel: "accuracy" },
  );
  const inner = (svg: string) => svg.replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "");
  return [
    '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="300" font-family="sans-serif" font-size="11">',
    `<g>${inner(left)}</g>`,
    `<g transform="translate(480 0)">${inner(right)}</g>`,
    "</svg>",
  ].join("\n");
}
