// The password generator: characters drawn with crypto.getRandomValues and exactly unbiased
// index sampling (rejection, never `% n` on a biased range), whole strings rejected until every
// rule holds, so the result is uniform over the compliant set, as the Rust generator's is.
// Pure apart from the random source, which can be passed in (tests use a seeded one).

import type { PolicyEntry } from "./policy.js";
import { Charset, check, scalars } from "./policy.js";

/** Fills a Uint32Array with random values. */
export type RandomSource = (into: Uint32Array) => void;

export const cryptoRandom: RandomSource = (into) => {
  crypto.getRandomValues(into);
};

/** Uniform integers in [0, n), drawn from 32-bit words with rejection. */
export class Indices {
  private buffer = new Uint32Array(256);
  private next = this.buffer.length;
  constructor(private readonly random: RandomSource) {}

  private word(): number {
    if (this.next === this.buffer.length) {
      this.random(this.buffer);
      this.next = 0;
    }
    const w = this.buffer[this.next];
    this.buffer[this.next] = 0;
    this.next++;
    return w;
  }

  below(n: number): number {
    // The largest multiple of n that fits in 2^32: words at or above it are rejected.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const w = this.word();
      if (w < limit) return w % n;
    }
  }
}

/** Attempts before giving up (never reached by a satisfiable built-in policy). */
const MAX_ATTEMPTS = 10_000;

/**
 * A password for `policy`, uniform over the strings its generator may draw that pass every
 * structural rule (and the username rule, when a username is given). The looks-random rule is
 * not run on it: at the built-in lengths a uniformly random string never trips it (0 in
 * 100,000, docs/performance.md), as the CLI also assumes for passwords it generates.
 */
export function generate(policy: PolicyEntry, username: string | null, random: RandomSource = cryptoRandom): string {
  const g = policy.generates;
  if (g === null) throw new Error(`policy ${policy.name} does not generate: ${policy.generated_by ?? ""}`);
  const alphabet = scalars(g.alphabet);
  // The catalog comes from the server: refuse what would loop, or draw from nothing.
  if (alphabet.length < 2 || new Set(alphabet).size !== alphabet.length) throw new Error(`policy ${policy.name} has no usable alphabet`);
  if (!Number.isInteger(g.length) || g.length < 8 || g.length > 4096) throw new Error(`policy ${policy.name} asks for ${g.length} characters`);
  const required = g.required.map((c) => new Charset(c.chars));
  const indices = new Indices(random);
  const structural = { ...policy, check: { ...policy.check, looks_random: false } };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const chars: string[] = [];
    for (let i = 0; i < g.length; i++) chars.push(alphabet[indices.below(alphabet.length)]);
    if (!required.every((set) => chars.some((c) => set.has(c)))) continue;
    if (g.max_consecutive !== null) {
      let run = 0;
      let ok = true;
      chars.forEach((c, i) => {
        run = i > 0 && chars[i - 1] === c ? run + 1 : 1;
        if (run > (g.max_consecutive as number)) ok = false;
      });
      if (!ok) continue;
    }
    const password = chars.join("");
    chars.fill("");
    if (check(structural, password, username).compliant) return password;
  }
  throw new Error("no generated password met the rules (does the username leave room for any?)");
}
