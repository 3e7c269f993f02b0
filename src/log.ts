/** An error as a log field: its text, cut to 300 characters (never a tenant's data beyond that). */
export const errorText = (err: unknown) => String(err).slice(0, 300);

/**
 * One JSON log line at `level` (console.log, .warn or .error, which Workers Logs keep as levels).
 *
 * @example logLine("warn", { event: "strategy_failed", strategy: "semantic", error: errorText(err) })
 */
export function logLine(level: "info" | "warn" | "error", fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
