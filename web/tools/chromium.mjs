// How every browser test runs Debian's Chromium: headless, no sandbox (containers), and nothing
// that reaches past loopback (no QUIC, no background networking, no component updates or sync).
// Shared by test/e2e.test.ts and tools/idp-sign-in.mjs.

export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The browser the tests drive: Debian's, never a downloaded one. */
export const EXECUTABLE = "/usr/bin/chromium";
