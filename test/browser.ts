import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

/** Debian's chromium, or the one FAULTLINE_CHROMIUM names. */
export const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? "/usr/bin/chromium";

/** Headless Chromium for the pages a person looks at; a missing browser says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (apt-get install -y --no-install-recommends chromium) or set FAULTLINE_CHROMIUM`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu"],
  });
}
