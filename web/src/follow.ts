// The screen after sending: the pickup link, the drop's state refreshed while the page is open,
// a two-step Revoke, and the receipt (the manage token, as a file the customer keeps, which
// `sealpass status --receipt FILE` adds to the command line's record).

import type { DropCreated, DropStatus } from "./api.js";
import { ApiError, api, shown } from "./api.js";
import { el, show } from "./dom.js";
import { ID } from "./link.js";

const POLL_MS = 3000;
const DISARM_MS = 8000;

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

/** The receipt file: what `sealpass status --receipt` reads (docs/protocol.md). */
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

export function follow(created: DropCreated, label: string | null, kind: string, createdAt: string, notes: string[]): void {
  if (!ID.test(created.id) || !created.pickup_url.endsWith(`/d/${created.id}`)) {
    throw new Error("the server's answer to the upload is malformed");
  }
  const state = el("p", { id: "drop-state", role: "status" }, "Waiting for the vendor.");
  const warning = el("p", { class: "alert", id: "drop-warning", role: "alert", hidden: true });
  const revoke = el("button", { type: "button", class: "secondary", id: "revoke" }, "Revoke it");
  const revokeHelp = el("p", { class: "muted", id: "revoke-help", role: "status" });
  const url = URL.createObjectURL(new Blob([receipt(created, label, kind, createdAt)], { type: "application/json" }));
  const download = el("a", { href: url, download: `sealpass-drop-${created.id}.json`, class: "button secondary" }, "Download the drop's receipt");
  show(
    "Sent",
    el("p", {}, "The credential left this browser sealed to the vendor's keys. The vendor receives it from this pickup link, once:"),
    el("p", { class: "link" }, shown(created.pickup_url)),
    state,
    warning,
    ...notes.map((n) => el("p", { class: "muted" }, n)),
    el(
      "p",
      { class: "muted" },
      "The receipt holds this drop's manage token, which lets whoever has it follow and revoke the drop. Keep it private. To follow the drop after closing this page: ",
      el("code", {}, "sealpass status --receipt sealpass-drop-….json"),
      ".",
    ),
    el("div", { class: "actions" }, revoke, download),
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
    if (status.claimed_by !== null && warning.hidden) {
      warning.hidden = false;
      warning.textContent = `It was picked up by "${shown(status.claimed_by)}". If that is not someone you expect at the vendor, assume the credential is compromised: change it on the account now.`;
    }
    if (status.state !== "waiting" && status.state !== "claimed") {
      revoke.hidden = true;
      revokeHelp.textContent = "";
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
