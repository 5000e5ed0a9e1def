// Prints the path of the Chromium the browser tests drive: $CHROMIUM when it is set (a system browser, for
// example Debian's /usr/bin/chromium), else the headless Chromium build pinned in package.json
// (@sparticuz/chromium, shipped inside the npm package), unpacked once into build/chromium/.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";

if (process.env.CHROMIUM) {
  console.log(process.env.CHROMIUM);
} else {
  const dir = resolve(process.argv[2] ?? "build/chromium");
  mkdirSync(dir, { recursive: true });
  process.env.TMPDIR = dir; // the package unpacks into os.tmpdir(), which reads TMPDIR on every call
  const { default: chromium } = await import("@sparticuz/chromium");
  console.log(await chromium.executablePath());
}
