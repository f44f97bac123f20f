// What the page's address says: a request link `/r/<id>#<upload token>.<fingerprint>` or the
// anonymous page `/send[#<fingerprint>]`. The fragment never reaches the server. Pure.

import { isFingerprint } from "./fingerprint.js";

export type Where =
  | { mode: "request"; base: string; id: string; token: string; fingerprint: string }
  | { mode: "anonymous"; base: string; fingerprint: string | null }
  | { mode: "broken"; why: string };

/** A drop or request id: 26 characters of lowercase base32. */
export const ID = /^[a-z2-7]{26}$/;
const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;

export function where(pathname: string, hash: string): Where {
  const fragment = hash.startsWith("#") ? hash.slice(1) : hash;
  // The server may sit under a prefix (https://host/prefix/r/<id>): the API is next to the page.
  const request = /^(.*)\/r\/([^/]+)\/?$/.exec(pathname);
  if (request !== null) {
    const [, base, id] = request;
    if (!ID.test(id)) return { mode: "broken", why: "the link's id is not a sealpass id" };
    const dot = fragment.lastIndexOf(".");
    if (fragment === "" || dot < 0) {
      return { mode: "broken", why: "the link is missing its part after #: copy the whole link you were sent" };
    }
    const token = fragment.slice(0, dot);
    const fingerprint = fragment.slice(dot + 1);
    if (!TOKEN.test(token) || !isFingerprint(fingerprint)) {
      return { mode: "broken", why: "the part of the link after # is damaged: copy the whole link you were sent" };
    }
    return { mode: "request", base, id, token, fingerprint };
  }
  const base = pathname.replace(/\/send\/?$/, "");
  if (fragment === "") return { mode: "anonymous", base, fingerprint: null };
  if (!isFingerprint(fragment)) return { mode: "broken", why: "the part of the address after # is not a key fingerprint" };
  return { mode: "anonymous", base, fingerprint: fragment };
}
