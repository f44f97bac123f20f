// The generator: exactly unbiased characters, uniform over the compliant set (chi-square, with
// a power check that the same test catches the biased insert-and-shuffle method).

import assert from "node:assert/strict";
import { test } from "node:test";

import { Indices, generate } from "../src/generate.js";
import { Charset, check, scalars } from "../src/policy.js";
import { chiSquare, chiSquareCritical, policy, seeded } from "./support.js";

test("indices are uniform, including for sizes that do not divide 2^32", () => {
  for (const n of [70, 76, 94, 3]) {
    const indices = new Indices(seeded(n));
    const counts = new Array<number>(n).fill(0);
    const draws = 2000 * n;
    for (let i = 0; i < draws; i++) counts[indices.below(n)]++;
    const stat = chiSquare(counts, new Array<number>(n).fill(draws / n));
    assert.ok(stat < chiSquareCritical(n - 1), `n=${n}: chi-square ${stat.toFixed(1)}`);
  }
});

test("strong passwords are uniform over their alphabet", () => {
  const p = policy("strong");
  const alphabet = scalars(p.generates?.alphabet ?? "");
  assert.equal(alphabet.length, 76);
  const counts = new Map<string, number>();
  let total = 0;
  const random = seeded(0x5ea19a55);
  while (total < 120_000) {
    for (const c of generate(p, null, random)) {
      counts.set(c, (counts.get(c) ?? 0) + 1);
      total++;
    }
  }
  assert.equal(counts.size, 76, "every character of the alphabet appears");
  const stat = chiSquare(alphabet.map((c) => counts.get(c) ?? 0), new Array<number>(76).fill(total / 76));
  assert.ok(stat < chiSquareCritical(75), `chi-square ${stat.toFixed(1)} over 75 df`);
});

/** Exact number of strings of `length` over `alphabet` containing every class (BigInt). */
function compliantCount(alphabet: string[], classes: Charset[], length: number): bigint {
  let total = 0n;
  for (let mask = 0; mask < 1 << classes.length; mask++) {
    const avoided = alphabet.filter((c) => !classes.some((k, i) => (mask >> i) & 1 && k.has(c))).length;
    const term = BigInt(avoided) ** BigInt(length);
    total += popcount(mask) % 2 === 0 ? term : -term;
  }
  return total;
}

function popcount(n: number): number {
  let c = 0;
  for (let m = n; m > 0; m >>= 1) c += m & 1;
  return c;
}

/** Expected share of each (disjoint) class per character of a uniform compliant password. */
function classShares(alphabet: string[], classes: Charset[], length: number): number[] {
  const all = compliantCount(alphabet, classes, length);
  return classes.map((k, i) => {
    const others = classes.filter((_, j) => j !== i);
    const rest = compliantCount(alphabet, others, length - 1);
    const size = BigInt(alphabet.filter((c) => k.has(c)).length);
    // The first character is in class k for size · rest of the compliant strings.
    return Number((size * rest * 1_000_000_000n) / all) / 1e9;
  });
}

function classTotals(classes: Charset[], passwords: string[]): number[] {
  const totals = new Array<number>(classes.length).fill(0);
  for (const pw of passwords) for (const c of scalars(pw)) totals[classes.findIndex((k) => k.has(c))]++;
  return totals;
}

test("salesforce passwords are uniform over the compliant set, and the test would catch insert-and-shuffle", () => {
  const p = policy("salesforce");
  const g = p.generates;
  assert.ok(g !== null);
  const alphabet = scalars(g.alphabet);
  const classes = g.required.map((c) => new Charset(c.chars));
  const random = seeded(70);
  const passwords = Array.from({ length: 4000 }, () => generate(p, "kore@acme.example", random));
  for (const pw of passwords.slice(0, 50)) assert.ok(check({ ...p, check: { ...p.check, looks_random: false } }, pw, null).compliant);
  const total = 4000 * g.length;
  // Within each class every character is equally likely.
  const counts = new Map<string, number>();
  for (const pw of passwords) for (const c of scalars(pw)) counts.set(c, (counts.get(c) ?? 0) + 1);
  const totals = classTotals(classes, passwords);
  const observed: number[] = [];
  const expected: number[] = [];
  classes.forEach((k, i) => {
    const members = alphabet.filter((c) => k.has(c));
    for (const c of members) {
      observed.push(counts.get(c) ?? 0);
      expected.push(totals[i] / members.length);
    }
  });
  const within = chiSquare(observed, expected);
  assert.ok(within < chiSquareCritical(alphabet.length - classes.length), `within-class chi-square ${within.toFixed(1)}`);
  // Across classes, the shares match the exact expectation.
  const shares = classShares(alphabet, classes, g.length);
  assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 1e-6, `${shares}`);
  const across = chiSquare(totals, shares.map((s) => s * total));
  assert.ok(across < chiSquareCritical(classes.length - 1), `class chi-square ${across.toFixed(1)}`);
  // Power: the biased method (one of each class, the rest at random, shuffled) stands out.
  const indices = new Indices(seeded(71));
  const biased = Array.from({ length: 4000 }, () => {
    const chars = classes.map((k) => {
      const members = alphabet.filter((c) => k.has(c));
      return members[indices.below(members.length)];
    });
    while (chars.length < g.length) chars.push(alphabet[indices.below(alphabet.length)]);
    for (let i = chars.length - 1; i > 0; i--) {
      const j = indices.below(i + 1);
      [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    return chars.join("");
  });
  const stat = chiSquare(classTotals(classes, biased), shares.map((s) => s * total));
  assert.ok(stat > 10 * chiSquareCritical(classes.length - 1), `insert-and-shuffle should stand out: ${stat.toFixed(1)}`);
});

test("generated passwords never contain the username, and impossible rules fail instead of hanging", () => {
  const p = policy("entra-password");
  const random = seeded(3);
  for (let i = 0; i < 200; i++) assert.ok(!generate(p, "Ab", random).toLowerCase().includes("ab"));
  assert.throws(() => generate(policy("microsoft-app-password"), null), /does not generate/);
  // A hostile or broken catalog cannot make the generator loop or draw from nothing.
  const strong = policy("strong");
  const g = strong.generates;
  assert.ok(g !== null);
  assert.throws(() => generate({ ...strong, generates: { ...g, alphabet: "" } }, null), /no usable alphabet/);
  assert.throws(() => generate({ ...strong, generates: { ...g, alphabet: "aaaa" } }, null), /no usable alphabet/);
  assert.throws(() => generate({ ...strong, generates: { ...g, length: 0 } }, null), /asks for 0/);
  assert.throws(() => generate({ ...strong, generates: { ...g, length: 1e9 } }, null), /asks for/);
});
