// One streamed ask, timed at the client: to the first `delta` event and to the end of the stream.

export interface TimedAsk {
  res: Response;
  /** The whole SSE body. */
  text: string;
  /** ms to the first delta event (undefined if none came). */
  ttft: number | undefined;
  total: number;
}

export async function timedAsk(url: string, body: object, key = "dev-local-key"): Promise<TimedAsk> {
  const started = performance.now();
  const res = await fetch(`${url}/api/rag/ask`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let ttft: number | undefined;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
    if (ttft === undefined && text.includes("event: delta")) ttft = performance.now() - started;
  }
  return { res, text, ttft, total: performance.now() - started };
}
