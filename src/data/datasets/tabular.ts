// The bundled tabular data sets (scikit-learn's load_digits, load_iris,
// load_wine, load_breast_cancer): features as a float tensor, labels int32.
import type { DType } from "../../dtype.js";
import { ArgumentError, FormatError } from "../../errors.js";
import { fromArray } from "../../tensor/creation.js";
import type { Tensor } from "../../tensor/tensor.js";
import { bundledPath, readMaybeGzip } from "./files.js";

/** A loaded data set, shaped like scikit-learn's Bunch. */
export interface TabularDataset {
  /** Features, [samples, features], float32 (or the requested dtype). */
  data: Tensor;
  /** Class labels, [samples], int32 in 0..targetNames.length-1. */
  target: Tensor;
  featureNames: string[];
  targetNames: string[];
}

export interface LoadOptions {
  /** The features' dtype: "float32" (default) or "float64". */
  dtype?: DType;
}

/**
 * The 8×8 handwritten digits: data [1797, 64] with pixel counts 0–16,
 * target [1797] in 0–9, and `images` [1797, 8, 8] (a view of data).
 *
 * @example
 * const { data, target } = fl.data.loadDigits();
 * data.shape; // [1797, 64]
 */
export function loadDigits(opts: LoadOptions = {}): TabularDataset & { images: Tensor } {
  const text = new TextDecoder().decode(readMaybeGzip(bundledPath("digits.csv.gz")));
  const rows = parseRows("loadDigits", text, 0);
  const featureNames: string[] = [];
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) featureNames.push(`pixel_${r}_${c}`);
  const targetNames = Array.from({ length: 10 }, (_, i) => String(i));
  const out = toTensors("loadDigits", rows, 64, targetNames.length, opts);
  return { ...out, images: out.data.view([-1, 8, 8]), featureNames, targetNames };
}

/**
 * Fisher's iris flowers: data [150, 4] (sepal and petal length and width,
 * cm), target [150] in 0–2 (setosa, versicolor, virginica).
 *
 * @example
 * const { data, target, targetNames } = fl.data.loadIris();
 */
export function loadIris(opts: LoadOptions = {}): TabularDataset {
  return loadCsv(
    "loadIris",
    "iris.csv",
    ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    opts,
  );
}

/**
 * Chemical analysis of wines from three cultivars: data [178, 13], target
 * [178] in 0–2.
 *
 * @example
 * const { data, target } = fl.data.loadWine();
 */
export function loadWine(opts: LoadOptions = {}): TabularDataset {
  const names = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
  ];
  return loadCsv("loadWine", "wine_data.csv", names, opts);
}

/**
 * Breast cancer Wisconsin (diagnostic): data [569, 30] (ten nucleus
 * measurements, each as mean, standard error and worst), target [569]:
 * 0 malignant, 1 benign.
 *
 * @example
 * const { data, target } = fl.data.loadBreastCancer();
 */
export function loadBreastCancer(opts: LoadOptions = {}): TabularDataset {
  const base = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave points",
    "symmetry",
    "fractal dimension",
  ];
  const names = [
    ...base.map((b) => `mean ${b}`),
    ...base.map((b) => `${b} error`),
    ...base.map((b) => `worst ${b}`),
  ];
  return loadCsv("loadBreastCancer", "breast_cancer.csv", names, opts);
}

/** Reads a CSV whose header row is `samples,features,className…` and whose last column is the label. */
function loadCsv(
  op: string,
  file: string,
  featureNames: string[],
  opts: LoadOptions,
): TabularDataset {
  const text = new TextDecoder().decode(readMaybeGzip(bundledPath(file)));
  const newline = text.indexOf("\n");
  const header = text.slice(0, newline).trim().split(",");
  const samples = Number(header[0]);
  const features = Number(header[1]);
  const targetNames = header.slice(2);
  if (!Number.isInteger(samples) || features !== featureNames.length || targetNames.length === 0) {
    throw new FormatError(`${op}: unexpected header in ${file}: ${header.join(",")}`);
  }
  const rows = parseRows(op, text.slice(newline + 1), 1);
  if (rows.length !== samples)
    throw new FormatError(`${op}: ${file} announces ${samples} rows but has ${rows.length}`);
  return { ...toTensors(op, rows, features, targetNames.length, opts), featureNames, targetNames };
}

function parseRows(op: string, text: string, firstLine: number): number[][] {
  const rows: number[][] = [];
  text.split("\n").forEach((line, k) => {
    if (line.trim() === "") return;
    const values = line.split(",").map(Number);
    if (values.some(Number.isNaN))
      throw new FormatError(
        `${op}: line ${k + 1 + firstLine} is not numeric: ${line.slice(0, 80)}`,
      );
    rows.push(values);
  });
  return rows;
}

function toTensors(
  op: string,
  rows: number[][],
  features: number,
  classes: number,
  opts: LoadOptions,
): { data: Tensor; target: Tensor } {
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64")
    throw new ArgumentError(`${op}: dtype must be float32 or float64, got ${dtype}`);
  const data =
    dtype === "float64"
      ? new Float64Array(rows.length * features)
      : new Float32Array(rows.length * features);
  const target = new Int32Array(rows.length);
  rows.forEach((row, i) => {
    if (row.length !== features + 1)
      throw new FormatError(`${op}: row ${i} has ${row.length} values, expected ${features + 1}`);
    data.set(row.slice(0, features), i * features);
    const label = row[features]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new FormatError(
        `${op}: row ${i} has label ${label}, expected an integer in 0..${classes - 1}`,
      );
    }
    target[i] = label;
  });
  return {
    data: fromArray(data, [rows.length, features]),
    target: fromArray(target, [rows.length]),
  };
}
