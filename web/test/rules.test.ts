// One rule engine, two languages, no drift: 10,000 strings a policy (random, near misses and
// hostile ones) get the same verdict from this engine and from the Rust checker
// (`sealpass check --batch --json`) on every structural rule. For the looks-random rule the
// page uses Dropbox's zxcvbn (the Rust crate ports it): on every string the Rust checker
// rejects and on a sample of those it accepts (PATTERN_SAMPLE in all), the page must never
// accept what the Rust checker rejects; the agreement rate is reported.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";

import { generate } from "../src/generate.js";
import { analyse } from "../src/patterns.js";
import type { PolicyEntry, Report } from "../src/policy.js";
import { check, scalars } from "../src/policy.js";
import { SEALPASS, catalog, policy, seeded } from "./support.js";

const USERNAME = "Kore.Svc@acme.example";
const PER_POLICY = 10_000;
/** Strings the Rust checker accepts that a looks-random policy also analyses (every string it
 * rejects is analysed). */
const ACCEPTED_SAMPLE = 200;

/** Characters that make trouble: controls, bidi, zero-width, astral, case-mapping oddities. */
const HOSTILE = [
  "\t", "\u0000", "\u001b", "\u007f", "\u0085", "\u009b", "\u00a0", "\u00ad", "\u061c", "\u180e", "\u200b",
  "\u200d", "\u200e", "\u2028", "\u202e", "\u2060", "\u2066", "\ufeff", "😀", "𝔸", "é", "e\u0301", "İ", "ẞ",
  "Σ", "ς", "ﬁ", "Å", "Ω", "ß", "中", "ا", " ", "\\", '"', "'", "`", "~", "<", ">", "{", "}", "|",
];

function pick<T>(next: () => number, list: T[]): T {
  return list[next() % list.length];
}

/** The corpus for one policy: a third random, a third near misses, a third hostile. */
function corpus(p: PolicyEntry, seed: number): string[] {
  const words = new Uint32Array(1);
  const rnd = seeded(seed);
  const next = (): number => {
    rnd(words);
    return words[0];
  };
  const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
  const own = scalars(p.generates?.alphabet ?? p.check.accept.ascii ?? "abc");
  const alphabets = [printable, own, [...own, ...HOSTILE], HOSTILE, scalars("abcABC123-_")];
  const lengths = [0, 1, p.check.min_length - 1, p.check.min_length, p.check.min_length + 1, 16, 24, 29, 30, 31, 32, 40, 128, 129];
  if (p.check.max_length !== null) lengths.push(p.check.max_length - 1, p.check.max_length, p.check.max_length + 1);
  const base = (): string => {
    if (p.generates !== null && next() % 2 === 0) return generate(p, null, rnd);
    const alphabet = pick(next, alphabets);
    const len = next() % 3 === 0 ? pick(next, lengths) : next() % 140;
    return Array.from({ length: Math.max(0, len) }, () => pick(next, alphabet)).join("");
  };
  const mutate = (s: string): string => {
    const chars = scalars(s);
    switch (next() % 9) {
      case 0:
        chars.splice(next() % (chars.length + 1), 0, pick(next, HOSTILE));
        break;
      case 1:
        if (chars.length > 0) chars.splice(next() % chars.length, 1);
        break;
      case 2:
        chars.splice(next() % (chars.length + 1), 0, pick(next, [USERNAME, USERNAME.toUpperCase(), "kore.svc", "KORE.SVC", "acme\\kore.svc"]));
        break;
      case 3:
        return chars.join("").toLowerCase();
      case 4:
        return chars.join("").replace(/[0-9]/g, "x");
      case 5: {
        const c = pick(next, [...chars, "a"]);
        chars.splice(next() % (chars.length + 1), 0, c, c, c, c);
        break;
      }
      case 6:
        return ` ${chars.join("")}`;
      case 7:
        return pick(next, [
          "0f8fad5b-d9cb-469f-a165-70867728950e",
          "{0F8FAD5B-D9CB-469F-A165-70867728950E}",
          "0f8fad5bd9cb469fa16570867728950e",
          "abc8Q~defghijklmnopqrstuvwxyz0123456789.",
          "abc9Q~defghijklmnopqrstuvwxyz0123456789.",
          "Xk3/9qL+Zp0=Tm7.Rw2:Vb5@Nc8-Hd1]",
          "Xk3/9qL+Zp0=Tm7.Rw2:Vb5@Nc8-Hd1]ab",
          "abcdefghijklmnop",
          "abcdefghijklmnoP",
          "Password123!Password123!Password1",
          "correct-horse-battery-staple-tiger",
          "qwertyuiopasdfghjklzxcvbnm1234567890",
          "Summer2024!Summer2024!Summer2024!",
        ]);
      default:
        chars.splice(next() % (chars.length + 1), 0, ...scalars("Password"));
    }
    return chars.join("");
  };
  const out: string[] = [];
  while (out.length < PER_POLICY) {
    const s = base();
    out.push(out.length % 3 === 0 ? s : mutate(s));
  }
  return out;
}

/** The Rust checker's reports, from `sealpass check --batch` running alongside (both cores). */
function rustReports(p: PolicyEntry, secrets: string[]): Promise<Report[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(SEALPASS, ["check", "--policy", p.name, "--username", USERNAME, "--batch", "--json"]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0 && code !== 3) reject(new Error(Buffer.concat(err).toString()));
      else resolve(Buffer.concat(out).toString().trim().split("\n").map((l) => JSON.parse(l) as Report));
    });
    child.stdin.end(`${secrets.map((s) => JSON.stringify(s)).join("\n")}\n`);
  });
}

// Every policy's corpus goes to the Rust checker at once; the tests below wait for theirs.
const jobs = new Map(
  catalog().policies.map((entry) => {
    const secrets = corpus(policy(entry.name), entry.name.length * 7919);
    return [entry.name, { secrets, rust: rustReports(policy(entry.name), secrets) }];
  }),
);

const verdicts = (r: Report): Record<string, boolean> => Object.fromEntries(r.rules.map((x) => [x.rule, x.ok]));

for (const entry of catalog().policies) {
  test(`the engine agrees with the Rust checker on ${PER_POLICY} strings: ${entry.name}`, async () => {
    const p = policy(entry.name);
    const job = jobs.get(entry.name);
    assert.ok(job !== undefined);
    const { secrets } = job;
    const rust = await job.rust;
    assert.equal(rust.length, secrets.length);
    let patternRuns = 0;
    let patternAgree = 0;
    let rustRejected = 0;
    // Every string the Rust checker finds patterned, then accepted ones, up to the sample.
    const rejectedByRust = rust.map((r) => r.rules.some((x) => x.rule === "looks-random" && !x.ok));
    const sample = new Set<number>();
    rejectedByRust.forEach((rejected, i) => rejected && sample.add(i));
    const rejected = sample.size;
    for (let i = 0; i < secrets.length && sample.size < rejected + ACCEPTED_SAMPLE; i += 7) sample.add(i);
    secrets.forEach((secret, i) => {
      const analysed = p.check.looks_random && sample.has(i);
      const analysis = analysed ? analyse(secret) : undefined;
      const ours = verdicts(check(p, secret, USERNAME, analysis));
      const theirs = verdicts(rust[i]);
      for (const rule of Object.keys(theirs)) {
        if (rule === "looks-random") continue;
        assert.equal(ours[rule], theirs[rule], `${entry.name} ${JSON.stringify(secret)}: rule ${rule}`);
      }
      assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), JSON.stringify(secret));
      if (analysed) {
        patternRuns++;
        if (ours["looks-random"] === theirs["looks-random"]) patternAgree++;
        if (!theirs["looks-random"]) rustRejected++;
        assert.ok(
          theirs["looks-random"] || !ours["looks-random"],
          `${entry.name}: the page accepts a pattern the Rust checker rejects: ${JSON.stringify(secret)}`,
        );
      }
    });
    if (patternRuns > 0) {
      console.log(
        `# ${entry.name}: structural rules agree on all ${secrets.length} strings; looks-random agrees on ${patternAgree} ` +
          `of ${patternRuns} analysed (${((100 * patternAgree) / patternRuns).toFixed(1)} %; ` +
          `${rejectedByRust.filter(Boolean).length} of the ${secrets.length} patterned by Rust's measure): the Rust checker ` +
          `rejected ${rustRejected} of them, the page every one and ${patternRuns - patternAgree} more`,
      );
    }
  });
}
