// Debian's Chromium for the page's tests and benchmark, driven by playwright-core (which must not
// download a browser of its own here).
import { spawnSync } from "node:child_process";
import { type Browser, chromium } from "playwright-core";

/** Debian's package puts it here; CHROMIUM_PATH points at another. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The flags Chromium needs on these machines: no sandbox as root, no background network (it is closed). */
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the browser is installed (it answers --version). */
export const hasChromium = () => !spawnSync(CHROMIUM_PATH, ["--version"]).error;

/** Starts headless Chromium; close() it when done. */
export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
