// Signs a person in at the test identity provider's development pages (web/tools/oidc-provider.mjs)
// in a real browser: Debian's Chromium driven by playwright-core, with a fresh profile. It opens
// the address given, answers each page it meets (confirm the device code, log in as LOGIN with
// any password, consent), and exits 0 once the provider says the sign-in succeeded or the browser
// reached the loopback redirect's page; 1 otherwise. Used by the tests of `sealpass login` (as the
// browser the CLI opens, or to finish the device flow's user step).
//
//   node tools/idp-sign-in.mjs URL LOGIN

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { EXECUTABLE, FLAGS } from "./chromium.mjs";

const [url, login] = process.argv.slice(2);
if (url === undefined || login === undefined) {
  process.stderr.write("usage: node tools/idp-sign-in.mjs URL LOGIN\n");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "chromium-sign-in-"));
let browser;
let done = false;
/** The pages it went through, told when it fails. */
const trail = [];
try {
  browser = await chromium.launchPersistentContext(profile, { executablePath: EXECUTABLE, headless: true, args: FLAGS });
  const page = await browser.newPage();
  await page.goto(url);
  for (let step = 0; step < 12 && !done; step++) {
    trail.push(page.url());
    await page.waitForLoadState("load");
    const text = await page.locator("body").innerText();
    if (/Sign-in Success|sealpass has what it needs/i.test(text)) {
      done = true;
      break;
    }
    const before = page.url();
    if ((await page.locator('input[name="login"]').count()) > 0) {
      await page.fill('input[name="login"]', login);
      await page.fill('input[name="password"]', "any password");
    }
    // The page's own submit button (Continue, Sign-in, Authorize): never "Abort" or "Cancel".
    const submit = page.locator('button[type="submit"], button:not([type])').filter({ hasNotText: /abort|cancel/i }).first();
    if ((await submit.count()) === 0) throw new Error(`nothing to do on ${before}: ${text.slice(0, 200)}`);
    await Promise.all([page.waitForURL((u) => u.toString() !== before, { timeout: 10_000 }).catch(() => {}), submit.click()]);
  }
  if (!done) {
    const said = (await browser.pages()[0]?.locator("body").innerText())?.slice(0, 300);
    process.stderr.write(`the sign-in did not finish (pages: ${trail.join(" → ")}); the last says: ${said}\n`);
  }
} catch (e) {
  process.stderr.write(`sign-in failed (pages: ${trail.join(" → ")}): ${e}\n`);
} finally {
  await browser?.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(done ? 0 : 1);
