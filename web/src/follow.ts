// The screen after sending: the pickup link, the drop's state refreshed while the page is open,
// a two-step Revoke, the follow-up file (the manage token, as a file the customer keeps, which
// `sealpass status --drop-file FILE` adds to the command line's record), and once the drop is
// received, the server's signed receipt, checked here against the key the link vouched for.

import type { DropCreated, DropStatus, Receipt } from "./api.js";
import { ApiError, api, shown } from "./api.js";
import { el, retitle, show } from "./dom.js";
import { unhex, verifyEd25519 } from "./ed25519.js";
import { ID } from "./link.js";

const POLL_MS = 3000;
const DISARM_MS = 8000;

/** The screen's heading for each state: it follows the drop. */
export const HEADINGS: Record<DropStatus["state"], string> = {
  waiting: "Sent",
  claimed: "Picked up",
  received: "Received",
  revoked: "Revoked",
  expired: "Expired",
};

export function describe(status: DropStatus): string {
  const by = shown(status.claimed_by ?? "?");
  switch (status.state) {
    case "waiting":
      return `Waiting for the vendor. It expires at ${shown(status.expires_at)}.`;
    case "claimed":
      return `Picked up by ${by} at ${shown(status.claimed_at ?? "?")}, not yet confirmed.`;
    case "received":
      return `Received by ${by} at ${shown(status.received_at ?? "?")}. The server wiped its copy.`;
    case "revoked":
      return status.claimed_by !== null
        ? `Revoked at ${shown(status.revoked_at ?? "?")}, but ${by} had already picked it up.`
        : `Revoked at ${shown(status.revoked_at ?? "?")}. Nobody picked it up.`;
    case "expired":
      return `Expired at ${shown(status.expires_at)}${status.claimed_by !== null ? `, after ${by} picked it up` : " without being picked up"}.`;
  }
}

/** The follow-up file: what `sealpass status --drop-file` reads (docs/protocol.md). */
export function receipt(created: DropCreated, label: string | null, kind: string, createdAt: string): string {
  const server = created.pickup_url.slice(0, created.pickup_url.length - `/d/${created.id}`.length);
  return JSON.stringify(
    {
      sealpass_receipt: 1,
      server,
      id: created.id,
      pickup_url: created.pickup_url,
      label,
      kind,
      created_at: createdAt,
      expires_at: created.expires_at,
      manage_token: created.manage_token,
    },
    null,
    2,
  );
}

/** Whether `r` is signed by `key` (hex) over its claims, as `receipt::verify` checks: Ed25519 over
 * "sealpass-receipt-v1\n" and the claims' compact JSON, keys in the server's order. */
export async function verifyReceipt(r: Receipt, key: string): Promise<boolean> {
  const c = r.claims;
  const claims = {
    v: c.v,
    server: c.server,
    drop_id: c.drop_id,
    request_id: c.request_id,
    label: c.label,
    received_by: c.received_by,
    received_at: c.received_at,
    audit_seq: c.audit_seq,
    audit_hash: c.audit_hash,
  };
  const [raw, signature] = [unhex(key), unhex(r.signature)];
  if (raw === null || signature === null || r.public_key.toLowerCase() !== key.toLowerCase()) return false;
  return verifyEd25519(raw, signature, new TextEncoder().encode(`sealpass-receipt-v1\n${JSON.stringify(claims)}`));
}

/** Fetch, check and offer the receipt of a received drop. */
async function showReceipt(created: DropCreated, receiptKey: string | null, line: HTMLElement, actions: HTMLElement): Promise<void> {
  let r: Receipt;
  try {
    r = await api.receipt(created.id, created.manage_token);
  } catch (e) {
    line.textContent = `No receipt: ${e instanceof Error ? shown(e.message) : "unknown error"}.`;
    return;
  }
  const mine = r.claims.drop_id === created.id;
  if (receiptKey !== null && !(mine && (await verifyReceipt(r, receiptKey)))) {
    line.className = "alert";
    line.setAttribute("role", "alert");
    line.textContent = "The server's receipt does not verify: it is not signed by the key your link vouches for. Tell the vendor.";
    return;
  }
  const who = `${shown(r.claims.received_by)} at ${shown(r.claims.received_at)}`;
  line.textContent =
    receiptKey === null
      ? `The server sent a receipt (received by ${who}, audit entry #${r.claims.audit_seq}); no fingerprint you were given vouches for its key, so it was not checked.`
      : `Receipt: signed by the vendor's server, received by ${who}, audit entry #${r.claims.audit_seq}.`;
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(r, null, 2)}\n`], { type: "application/json" }));
  actions.append(el("a", { href: url, download: `sealpass-receipt-${created.id}.json`, class: "button secondary" }, "Download the signed receipt"));
}

export function follow(
  created: DropCreated,
  label: string | null,
  kind: string,
  createdAt: string,
  notes: string[],
  receiptKey: string | null,
): void {
  if (!ID.test(created.id) || !created.pickup_url.endsWith(`/d/${created.id}`)) {
    throw new Error("the server's answer to the upload is malformed");
  }
  // The drop's state is news, not an error: a status line (announced when it changes) that
  // looks done once the vendor has it; the heading follows it.
  const state = el("p", { id: "drop-state", class: "state", role: "status" }, "Waiting for the vendor.");
  const pickedBy = el("p", { id: "drop-picked-by", hidden: true });
  const revoke = el("button", { type: "button", class: "secondary", id: "revoke" }, "Revoke it");
  const revokeHelp = el("p", { class: "muted", id: "revoke-help", role: "status" });
  const url = URL.createObjectURL(new Blob([receipt(created, label, kind, createdAt)], { type: "application/json" }));
  const download = el("a", { href: url, download: `sealpass-drop-${created.id}.json`, class: "button secondary" }, "Download the follow-up file");
  const receiptLine = el("p", { id: "drop-receipt", role: "status" });
  const actions = el("div", { class: "actions" }, revoke, download);
  show(
    "Sent",
    el("p", {}, "The credential left this browser sealed to the vendor's keys. The vendor receives it from this pickup link, once:"),
    el("p", { class: "link" }, shown(created.pickup_url)),
    state,
    pickedBy,
    ...notes.map((n) => el("p", { class: "muted" }, n)),
    el(
      "p",
      { class: "muted" },
      "The follow-up file holds this drop's manage token, which lets whoever has it follow and revoke the drop. Keep it private. To follow the drop after closing this page: ",
      el("code", {}, "sealpass status --drop-file sealpass-drop-….json"),
      ".",
    ),
    receiptLine,
    actions,
    revokeHelp,
  );
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const update = (status: DropStatus): void => {
    const text = describe(status);
    if (state.textContent !== text) state.textContent = text;
    state.dataset.state = status.state;
    retitle(HEADINGS[status.state] ?? "Sent");
    if (status.claimed_by !== null && pickedBy.hidden) {
      pickedBy.hidden = false;
      pickedBy.textContent = `If "${shown(status.claimed_by)}" is not someone you expect at the vendor, assume the credential is compromised and change it on the account.`;
    }
    if (status.state !== "waiting" && status.state !== "claimed") {
      revoke.hidden = true;
      revokeHelp.textContent = "";
      if (status.state === "received" && timer !== undefined) void showReceipt(created, receiptKey, receiptLine, actions);
      stop();
    }
  };
  const poll = (): void => {
    api.status(created.id, created.manage_token).then(update, (e: unknown) => {
      if (e instanceof ApiError && e.status === 404) {
        state.textContent = "The server no longer knows this drop.";
        revoke.hidden = true;
        stop();
      } else {
        state.textContent = `Could not refresh the drop's state (${e instanceof Error ? shown(e.message) : "unknown error"}); trying again.`;
      }
    });
  };
  timer = setInterval(poll, POLL_MS);
  poll();
  let armed: ReturnType<typeof setTimeout> | undefined;
  revoke.addEventListener("click", () => {
    if (armed === undefined) {
      revoke.textContent = "Press again to revoke";
      revokeHelp.textContent = "Revoking burns the drop: the vendor can no longer pick it up. Press the button again to revoke.";
      armed = setTimeout(() => {
        armed = undefined;
        revoke.textContent = "Revoke it";
        revokeHelp.textContent = "";
      }, DISARM_MS);
      return;
    }
    clearTimeout(armed);
    armed = undefined;
    revoke.disabled = true;
    api.revoke(created.id, created.manage_token).then(
      (status) => {
        revokeHelp.textContent = "Revoked.";
        update(status);
      },
      (e: unknown) => {
        revoke.disabled = false;
        revoke.textContent = "Revoke it";
        revokeHelp.textContent = `Not revoked: ${e instanceof Error ? shown(e.message) : "unknown error"}`;
      },
    );
  });
}
