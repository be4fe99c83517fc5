/**
 * A heatmap as standalone SVG text: one cell per matrix entry, darker for
 * larger values, with row and column labels (an attention matrix: output
 * steps down, input positions across).
 */
export interface HeatmapOptions {
  title: string;
  rowLabels?: string[];
  colLabels?: string[];
  xLabel?: string;
  yLabel?: string;
  /** Cell size in pixels (28). */
  cell?: number;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Values scaled to [0, 1] by the matrix's min and max, as white → dark blue. */
export function heatmap(matrix: number[][], opts: HeatmapOptions): string {
  const c = opts.cell ?? 28;
  const rows = matrix.length;
  const cols = Math.max(0, ...matrix.map((r) => r.length));
  const m = { left: 64, top: 56, right: 16, bottom: 40 };
  const W = m.left + cols * c + m.right;
  const H = m.top + rows * c + m.bottom;
  const all = matrix.flat().filter(Number.isFinite);
  const lo = all.length ? Math.min(...all) : 0;
  const hi = all.length ? Math.max(...all) : 1;
  const shade = (v: number) => {
    const t = hi > lo ? (v - lo) / (hi - lo) : 0;
    const mix = (a: number, b: number) => Math.round(a + (b - a) * t);
    return `rgb(${mix(255, 8)},${mix(255, 48)},${mix(255, 107)})`;
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(opts.title)}</text>`,
  ];
  matrix.forEach((row, i) => {
    row.forEach((v, j) => {
      parts.push(
        `<rect x="${m.left + j * c}" y="${m.top + i * c}" width="${c}" height="${c}" fill="${shade(v)}"><title>${v.toFixed(3)}</title></rect>`,
      );
    });
    const label = opts.rowLabels?.[i];
    if (label !== undefined)
      parts.push(
        `<text x="${m.left - 6}" y="${m.top + i * c + c / 2 + 4}" text-anchor="end">${escapeXml(label)}</text>`,
      );
  });
  opts.colLabels?.slice(0, cols).forEach((label, j) => {
    parts.push(
      `<text x="${m.left + j * c + c / 2}" y="${m.top - 6}" text-anchor="middle">${escapeXml(label)}</text>`,
    );
  });
  if (opts.xLabel)
    parts.push(
      `<text x="${m.left + (cols * c) / 2}" y="${H - 12}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`,
    );
  if (opts.yLabel)
    parts.push(
      `<text transform="translate(14 ${m.top + (rows * c) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`,
    );
  parts.push("</svg>");
  return parts.join("\n");
}
