// Command-line arguments for the project's scripts: node:util's parseArgs with a usage text that
// --help prints (exit 0) and a bad argument prints after its error (exit 2).
import { type ParseArgsConfig, parseArgs } from "node:util";

export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(options: T, usage: string, allowPositionals = false) {
  try {
    const parsed = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals });
    if ((parsed.values as { help?: boolean }).help) {
      console.log(usage);
      process.exit(0);
    }
    return parsed;
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${usage}`);
    process.exit(2);
  }
}
