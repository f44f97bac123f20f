// The looks-random rule's pattern analysis, with zxcvbn-ts: the same windows and thresholds as
// the Rust checker (src/policy/randomness.rs), a slightly stricter bar (the page may refuse more
// than the CLI, never less), and findings by kind and position only. This module and its
// dictionaries (about 1.6 MB) are a separate chunk, loaded only when a pasted secret must be
// checked against a looks-random policy.

import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import type { MatchExtended } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as en from "@zxcvbn-ts/language-en";

import type { Analysis } from "./policy.js";
import { scalars } from "./policy.js";

/** zxcvbn looks at no more than this many characters (as the Rust checker). */
export const ANALYSED_CHARS = 100;
const WINDOW = 16;
const STRIDE = WINDOW / 2;
/** Shorter matches are noise (the Rust checker: 4; here 3, stricter). */
const MIN_FINDING = 3;
/** A secret fails when patterns cover this share of what was analysed (Rust: one half)… */
const SHARE = 0.4;
/** …and at least this many characters (Rust: 10). */
const MIN_COVERED = 8;

let factory: ZxcvbnFactory | null = null;

function zxcvbn(): ZxcvbnFactory {
  factory ??= new ZxcvbnFactory({
    graphs: common.adjacencyGraphs,
    dictionary: { ...common.dictionary, ...en.dictionary },
  });
  return factory;
}

interface Finding {
  kind: string;
  start: number;
  end: number;
}

function kindOf(m: MatchExtended): string | null {
  switch (m.pattern) {
    case "dictionary": {
      const d = m as MatchExtended & { dictionaryName?: string; reversed?: boolean; l33t?: boolean };
      const base = d.dictionaryName?.includes("password") ? "a common password" : "a word or name";
      if (d.reversed) return `${base} reversed`;
      if (d.l33t) return `${base} with look-alike characters`;
      return base;
    }
    case "spatial":
      return "a keyboard walk";
    case "repeat":
      return "a repeated block";
    case "sequence":
      return "a character sequence";
    case "regex":
      return "a recent year";
    case "date":
      return "a date";
    case "bruteforce":
      return null;
    default:
      return "a predictable pattern";
  }
}

/** zxcvbn's matches in `chars` (positions in characters, offset by `offset`). */
function findingsIn(chars: string[], offset: number, minLen: number, out: Finding[]): void {
  const text = chars.join("");
  // zxcvbn counts UTF-16 code units; map them back to characters.
  const unitToChar: number[] = [];
  chars.forEach((c, i) => {
    for (let k = 0; k < c.length; k++) unitToChar.push(i);
  });
  const result = zxcvbn().check(text);
  for (const m of result.sequence) {
    const start = unitToChar[m.i] ?? 0;
    const end = unitToChar[m.j] ?? chars.length - 1;
    if (end + 1 - start < minLen) continue;
    const kind = kindOf(m);
    if (kind !== null) out.push({ kind, start: offset + start, end: offset + end });
  }
}

/** Analyse the first characters of `secret` for predictable patterns. */
export function analyse(secret: string): Analysis {
  const chars = scalars(secret).slice(0, ANALYSED_CHARS);
  const found: Finding[] = [];
  for (let start = 0; start < chars.length; start += STRIDE) {
    const end = Math.min(start + WINDOW, chars.length);
    findingsIn(chars.slice(start, end), start, MIN_FINDING, found);
    if (end === chars.length) break;
  }
  if (chars.length > WINDOW) findingsIn(chars, 0, STRIDE + 1, found);
  const covered = new Array<boolean>(chars.length).fill(false);
  for (const f of found) for (let i = f.start; i <= f.end; i++) covered[i] = true;
  const count = covered.filter((c) => c).length;
  found.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept: Finding[] = [];
  for (const f of found) if (!kept.some((k) => f.start <= k.end && k.start <= f.end)) kept.push(f);
  kept.sort((a, b) => a.start - b.start);
  const threshold = Math.max(Math.ceil(chars.length * SHARE), Math.min(MIN_COVERED, chars.length));
  return {
    analysed: chars.length,
    covered: count,
    findings: kept.map((f) => `${f.kind} (chars ${f.start + 1}–${f.end + 1})`),
    looksRandom: chars.length > 0 && count < threshold,
  };
}
