// The looks-random rule's pattern analysis, with Dropbox's zxcvbn (the estimator the Rust crate
// ports: the same matchers and dictionaries, at a tenth of zxcvbn-ts's cost), over the same windows
// as the Rust checker (crates/sealpass-core/src/policy/randomness.rs), with the same thresholds. It
// is never laxer than the Rust checker: the Rust side counts the patterns of zxcvbn's optimal
// decomposition, whose matches are among every match zxcvbn finds; here every match counts.
// Findings are reported by kind and position only. This module and its dictionaries (about 800 KB)
// are a separate bundle, loaded only when a pasted secret must be checked against a looks-random
// policy.

// @ts-expect-error: zxcvbn's internals have no types; they are plain CommonJS modules.
import matching from "zxcvbn/lib/matching.js";

import type { Analysis } from "./policy.js";
import { scalars } from "./policy.js";

/** zxcvbn looks at no more than this many characters (as the Rust checker). */
export const ANALYSED_CHARS = 100;
const WINDOW = 16;
const STRIDE = WINDOW / 2;
/** Shorter matches are noise: random strings are full of two- and three-letter words. */
const MIN_FINDING = 4;
/** A secret fails when patterns cover half of what was analysed… */
const SHARE = 0.5;
/** …and at least this many characters. */
const MIN_COVERED = 10;

interface Match {
  pattern: string;
  i: number;
  j: number;
  dictionary_name?: string;
  reversed?: boolean;
  l33t?: boolean;
}

interface Finding {
  kind: string;
  start: number;
  end: number;
}

function kindOf(m: Match): string | null {
  switch (m.pattern) {
    case "dictionary": {
      const base = m.dictionary_name === "passwords" ? "a common password" : "a word or name";
      if (m.reversed) return `${base} reversed`;
      if (m.l33t) return `${base} with look-alike characters`;
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
  const matches = (matching as { omnimatch: (s: string) => Match[] }).omnimatch(text);
  for (const m of matches) {
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
