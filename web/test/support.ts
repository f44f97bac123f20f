// Shared by the web tests: the real sealpass binary, the catalog it prints, a seeded random
// source, and chi-square helpers.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import type { Catalog, PolicyEntry } from "../src/policy.js";

/** The sealpass binary the Rust tests built (or SEALPASS_BIN). */
export const SEALPASS = resolve(process.env.SEALPASS_BIN ?? "../target/debug/sealpass");

export function sealpass(args: string[], input = "", env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  if (!existsSync(SEALPASS)) throw new Error(`${SEALPASS} is missing: build it first (cargo build)`);
  const run = spawnSync(SEALPASS, args, { input, env: { ...process.env, ...env }, maxBuffer: 512 * 1024 * 1024 });
  return { code: run.status ?? -1, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

let catalogCache: Catalog | null = null;
export function catalog(): Catalog {
  catalogCache ??= JSON.parse(sealpass(["policies", "--json"]).stdout) as Catalog;
  return catalogCache;
}

export function policy(name: string): PolicyEntry {
  const p = catalog().policies.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no policy ${name}`);
  return p;
}

export function scratch(): string {
  return mkdtempSync(join(tmpdir(), "sealpass-web-"));
}

/** A seeded 32-bit generator (mulberry32): reproducible streams for the tests, never for real
 * passwords. */
export function seeded(seed: number): (into: Uint32Array) => void {
  let a = seed | 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  return (into) => {
    for (let i = 0; i < into.length; i++) into[i] = next();
  };
}

/** Chi-square critical value at p = 1e-4 for `df` degrees of freedom (Wilson–Hilferty). */
export function chiSquareCritical(df: number): number {
  const z = 3.719;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

export function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((sum, o, i) => sum + ((o - expected[i]) ** 2) / expected[i], 0);
}

/** A `sealpass serve` child on a free loopback port, with a staff member (alice) and a vendor key. */
export interface Served {
  url: string;
  staffToken: string;
  identity: string;
  dir: string;
  stop: () => void;
  staff: (args: string[], input?: string) => { code: number; stdout: string; stderr: string };
}

export async function serve(extra = ""): Promise<Served> {
  const { spawn } = await import("node:child_process");
  const { createHash, randomBytes } = await import("node:crypto");
  const { writeFileSync } = await import("node:fs");
  const dir = scratch();
  const identity = join(dir, "vendor.key");
  const recipient = sealpass(["keygen", "-o", identity]).stdout.split("\n")[0];
  const staffToken = `sps_${randomBytes(24).toString("base64url")}`;
  const hash = createHash("sha256").update(staffToken).digest("hex");
  writeFileSync(
    join(dir, "server.toml"),
    `recipients = ["${recipient}"]\n${extra}\n[[staff]]\nname = "alice"\ntoken_sha256 = "${hash}"\n`,
  );
  const child = spawn(SEALPASS, ["serve", "--listen", "127.0.0.1:0", "--store", `sqlite://${join(dir, "drops.db")}`, "--config", join(dir, "server.toml")]);
  const url = await new Promise<string>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`no listening line: ${log}`)), 20_000);
    child.stderr.on("data", (b: Buffer) => {
      log += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(log);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", () => reject(new Error(`the server exited: ${log}`)));
  });
  child.stderr.removeAllListeners("data");
  child.stderr.resume();
  return {
    url,
    staffToken,
    identity,
    dir,
    stop: () => child.kill(),
    staff: (args, input = "") =>
      sealpass(args, input, { SEALPASS_STAFF_TOKEN: staffToken, SEALPASS_SERVER: url, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") }),
  };
}
