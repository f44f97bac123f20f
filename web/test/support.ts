// Shared by the web tests: the real sealpass binary, the catalog it prints, scratch directories
// removed at exit, test servers (one with a vendor-signed manifest among them), a seeded random
// source, and chi-square helpers.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { vendorFingerprint } from "../src/fingerprint.js";
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

/** Scratch directories, removed when the test process ends (whatever a test did with them). */
const scratches: string[] = [];
process.on("exit", () => {
  for (const dir of scratches) rmSync(dir, { recursive: true, force: true });
});

export function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "sealpass-web-"));
  scratches.push(dir);
  return dir;
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

/** A `sealpass serve` child on a loopback port, with a staff member (alice) and the vendor's age
 * identity; `stop` ends it and removes its directory. */
export interface Served {
  url: string;
  staffToken: string;
  identity: string;
  dir: string;
  /** The server's config file (edit it, then `restart`). */
  config: string;
  stop: () => Promise<void>;
  /** Stop it and start it again on the same port, with the same store and config. */
  restart: () => Promise<void>;
  staff: (args: string[], input?: string) => { code: number; stdout: string; stderr: string };
}

/** A loopback port nobody listens on now (for a server whose public_url must be known before it
 * starts). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export interface ServeOptions {
  /** The port to listen on (default: any free one). */
  port?: number;
  /** Run once the directory and config exist, before the server starts (e.g. to sign a manifest). */
  prepare?: (dir: string, config: string) => void;
}

/** `extra`: more config (top-level keys first), or what makes it from the server's directory. */
export async function serve(extra: string | ((dir: string) => string) = "", options: ServeOptions = {}): Promise<Served> {
  const { spawn } = await import("node:child_process");
  const { createHash, randomBytes } = await import("node:crypto");
  type Child = ReturnType<typeof spawn>;
  const dir = scratch();
  const identity = join(dir, "vendor.key");
  const recipient = sealpass(["keygen", "-o", identity]).stdout.split("\n")[0];
  const staffToken = `sps_${randomBytes(24).toString("base64url")}`;
  const hash = createHash("sha256").update(staffToken).digest("hex");
  const config = join(dir, "server.toml");
  const more = typeof extra === "string" ? extra : extra(dir);
  writeFileSync(config, `recipients = ["${recipient}"]\n${more}\n[[staff]]\nname = "alice"\ntoken_sha256 = "${hash}"\n`);
  options.prepare?.(dir, config);
  const start = async (port: number): Promise<{ child: Child; url: string }> => {
    const args = ["serve", "--listen", `127.0.0.1:${port}`, "--store", `sqlite://${join(dir, "drops.db")}`, "--config", config];
    const child = spawn(SEALPASS, args, { stdio: ["ignore", "ignore", "pipe"] });
    const url = await new Promise<string>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`no listening line: ${log}`)), 20_000);
      child.stderr?.on("data", (b: Buffer) => {
        log += b.toString();
        const m = /listening on (http:\/\/\S+)/.exec(log);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.on("exit", () => {
        clearTimeout(timer);
        reject(new Error(`the server exited: ${log}`));
      });
    }).catch((e: unknown) => {
      child.kill();
      throw e;
    });
    child.stderr?.removeAllListeners("data");
    child.stderr?.resume();
    return { child, url };
  };
  const end = (child: Child): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill();
    });
  const staffEnv = { SEALPASS_STAFF_TOKEN: staffToken, XDG_CONFIG_HOME: join(dir, "config"), XDG_STATE_HOME: join(dir, "state") };
  // Staff hold their server to the value its operator gives them (the vendor key's, else the
  // hash of its keys), as the staff guide says: `request` refuses otherwise.
  const pinStaff = async (at: string): Promise<void> => {
    const info = (await (await fetch(`${at}/v1/info`)).json()) as { fingerprint: string; manifest?: { signatures: { key: string }[] } };
    const signer = info.manifest?.signatures[0]?.key;
    const value = signer === undefined ? info.fingerprint : await vendorFingerprint(signer);
    const run = sealpass(["init", "--server", at, "--fingerprint", value], "", staffEnv);
    if (run.code !== 0) throw new Error(`staff init: ${run.stderr}`);
  };
  let running = await start(options.port ?? 0).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const url = running.url;
  await pinStaff(url);
  return {
    url,
    staffToken,
    identity,
    dir,
    config,
    stop: async () => {
      await end(running.child);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await end(running.child);
      running = await start(Number(new URL(url).port));
      await pinStaff(url);
    },
    staff: (args, input = "") =>
      sealpass(args, input, { ...staffEnv, SEALPASS_SERVER: url }),
  };
}

/** A server whose vendor key (its own, in `signingKey`) signs its manifest, served at a
 * public_url known before it starts; `sign` re-signs the config as it is now (the next serial). */
export async function serveSigned(extra = ""): Promise<Served & { signingKey: string; vendorKey: string; sign: (...flags: string[]) => void }> {
  const port = await freePort();
  let signingKey = "";
  let vendorKey = "";
  let sign = (..._flags: string[]): void => undefined;
  const served = await serve(
    (dir) => `public_url = "http://127.0.0.1:${port}"\nmanifest_file = "${join(dir, "manifest.json")}"\nreceipt_key = "${join(dir, "receipt.key")}"\n${extra}`,
    {
      port,
      prepare: (dir, config) => {
        signingKey = join(dir, "signing.key");
        const made = sealpass(["vendor-key", "new", "-o", signingKey, "--json"]);
        if (made.code !== 0) throw new Error(made.stderr);
        vendorKey = (JSON.parse(made.stdout) as { fingerprint: string }).fingerprint;
        sign = (...flags) => {
          const run = sealpass(["manifest", "sign", "--vendor-key", signingKey, "--config", config, "-o", join(dir, "manifest.json"), ...flags]);
          if (run.code !== 0) throw new Error(run.stderr);
        };
        sign();
      },
    },
  );
  return { ...served, signingKey, vendorKey, sign };
}
