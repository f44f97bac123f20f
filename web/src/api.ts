// The drop server's API, from the page: same origin only, typed, every call bounded in time
// and every answer in size (the server is trusted with availability, not with our memory), and
// every message from it shown as text. Pure apart from fetch.

import type { Catalog } from "./policy.js";

export interface Info {
  version: string;
  recipients: string[];
  fingerprint: string;
  limits: { max_ciphertext_bytes: number; default_ttl_seconds: number; max_ttl_seconds: number };
  anonymous_uploads: boolean;
  public_url: string;
  /** The vendor's certificates for customers to register (older servers: absent). */
  certificates?: PublishedCertificate[];
  /** The Ed25519 key that signs receipts, hex (older servers: absent). */
  receipt_key?: string | null;
  /** The vendor's signed manifest (absent: none), checked by manifest.ts before anything in it is
   * believed. */
  manifest?: unknown;
}

/** `GET /v1/drops/{id}/receipt`: the server's signed word that the drop was received. */
export interface Receipt {
  claims: {
    v: number;
    server: string;
    drop_id: string;
    request_id: string | null;
    label: string | null;
    received_by: string;
    received_at: string;
    audit_seq: number;
    audit_hash: string;
  };
  public_key: string;
  signature: string;
}

export interface PublishedCertificate {
  name: string;
  pem: string;
  sha256: string;
  sha1_thumbprint: string;
  not_after: string;
}

export interface RequestStatus {
  id: string;
  label: string;
  kind: string;
  expires_at: string;
  state: "open" | "fulfilled" | "expired" | "cancelled";
  /** Fields of the kind the staff member made mandatory for this request (absent: none). */
  require?: string[];
}

export interface DropCreated {
  id: string;
  manage_token: string;
  expires_at: string;
  pickup_url: string;
}

export interface DropStatus {
  id: string;
  state: "waiting" | "claimed" | "received" | "expired" | "revoked";
  created_at: string;
  expires_at: string;
  claimed_by: string | null;
  claimed_at: string | null;
  received_at: string | null;
  revoked_at: string | null;
  request_id: string | null;
}

/** A refusal or failure, with the server's code when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 30_000;
/** Largest answer read: the catalog and /v1/info are the big ones. */
const MAX_ANSWER = 256 * 1024;

async function body(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_ANSWER) {
      await reader.cancel();
      throw new ApiError(0, "too_large", "the server's answer is larger than any sealpass answer; stopped reading");
    }
    parts.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new TextDecoder().decode(all);
}

let base = "";

/** Where the API is: next to the page (a server under a prefix has it there too). */
export function setBase(prefix: string): void {
  base = prefix;
}

async function call<T>(method: string, path: string, token: string | null, payload?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (payload !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      referrerPolicy: "no-referrer",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw new ApiError(0, "unreachable", "the drop server could not be reached; check your connection and try again");
  }
  const text = await body(response);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "not_json", `the server answered HTTP ${response.status}, not sealpass JSON`);
  }
  if (!response.ok) {
    const e = parsed as { error?: unknown; message?: unknown };
    throw new ApiError(
      response.status,
      typeof e.error === "string" ? e.error : "error",
      typeof e.message === "string" ? e.message : `HTTP ${response.status}`,
    );
  }
  return parsed as T;
}

export const api = {
  info: () => call<Info>("GET", "/v1/info", null),
  catalog: () => call<Catalog>("GET", "/v1/policies", null),
  request: (id: string, token: string) => call<RequestStatus>("GET", `/v1/requests/${id}`, token),
  upload: (ciphertext: string, request: { id: string; token: string } | null) =>
    call<DropCreated>(
      "POST",
      "/v1/drops",
      request?.token ?? null,
      request === null ? { ciphertext } : { ciphertext, request_id: request.id },
    ),
  status: (id: string, manage: string) => call<DropStatus>("GET", `/v1/drops/${id}`, manage),
  receipt: (id: string, manage: string) => call<Receipt>("GET", `/v1/drops/${id}/receipt`, manage),
  revoke: (id: string, manage: string) => call<DropStatus>("DELETE", `/v1/drops/${id}`, manage),
};

/** Text from the server made safe to show: controls, bidi and zero-width characters escaped. */
export function shown(text: string): string {
  return Array.from(text)
    .map((c) => {
      const cp = c.codePointAt(0) as number;
      const hazard =
        cp <= 0x1f ||
        (cp >= 0x7f && cp <= 0x9f) ||
        cp === 0xad ||
        cp === 0x61c ||
        (cp >= 0x200b && cp <= 0x200f) ||
        (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2060 && cp <= 0x206f) ||
        cp === 0xfeff;
      return hazard ? `\\u{${cp.toString(16)}}` : c;
    })
    .join("");
}
