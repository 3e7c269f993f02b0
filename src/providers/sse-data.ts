/**
 * The `data` of each event of a text/event-stream body, in order (multi-line data joined with
 * "\n"; comments and other fields skipped). Leaving the loop early, or `signal` aborting,
 * cancels the body, which ends the upstream request.
 *
 * @example for await (const data of sseData(body, signal)) if (data !== "[DONE]") JSON.parse(data);
 */
export async function* sseData(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<string, void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const onAbort = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", onAbort);
  let finished = false;
  let buffer = "";
  let data: string[] = [];
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (signal.aborted) throw signal.reason;
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffer.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
      // The last piece may be half a line, unless the body has ended.
      buffer = done ? "" : lines.pop()!;
      for (const line of lines) {
        if (line === "") {
          if (data.length > 0) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      if (done) {
        finished = true;
        if (data.length > 0) yield data.join("\n");
        return;
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
