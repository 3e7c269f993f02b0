// The README's shell examples, for the tests that run them: each `sh` block's commands with
// continuation lines joined.
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The curl commands of the README's sh blocks (a pipeline stays whole: `curl … | node -e …`). */
export function readmeCurlCommands(): string[] {
  const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const commands: string[] = [];
  for (const block of blocks) {
    const joined = block.replace(/\\\n\s*/g, " ").replace(/\n\s+(?=[{"\]])/g, " ");
    commands.push(...joined.split("\n").filter((line) => line.startsWith("curl ")));
  }
  return commands;
}

/** The README's streamed ask: the curl command, and the filter it pipes the events through. */
export function readmeStreamingAsk(): { curl: string; filter: string } {
  const pipeline = readmeCurlCommands().find((c) => c.includes(" | node -e "));
  if (!pipeline) throw new Error("the README has no `curl … | node -e …` example");
  const at = pipeline.indexOf(" | node -e ");
  return { curl: pipeline.slice(0, at), filter: pipeline.slice(at + " | ".length) };
}
