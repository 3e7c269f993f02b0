import { ApiError } from "../errors.ts";
import { race } from "../timeouts.ts";

/** An ApiError as plain data: it crosses from a Durable Object to the requests it serves. */
export interface Problem {
  status: number;
  code: string;
  detail: string;
  headers: Record<string, string>;
}

/**
 * One step of an answer, wherever it is generated: `meta` (sources, before any text), `delta`
 * (text), `done` (usage, timings) or `error` (before `meta`: the request fails with the problem;
 * after it: the stream ends with an `error` event).
 */
export type AskRecord =
  | { type: "meta"; meta: Record<string, unknown>; timings: Record<string, number> }
  | { type: "delta"; text: string }
  | {
      type: "done";
      done: Record<string, unknown>;
      /** A whole answer from the configured model: worth caching. */
      cacheable: boolean;
      /** Of all the requests that receive this answer, the one that caches it. */
      writer: boolean;
    }
  | { type: "error"; problem: Problem };

export const toProblem = (e: ApiError): Problem => ({ status: e.status, code: e.code, detail: e.detail, headers: e.headers });

export const fromProblem = (p: Problem) => new ApiError(p.status, p.code, p.detail, [], p.headers);

const encoder = new TextEncoder();
/** Records travel as newline-delimited JSON. */
export const encodeRecord = (record: AskRecord): Uint8Array => encoder.encode(`${JSON.stringify(record)}\n`);

/** A source of records that the reader can give up on (the client went away). */
export interface RecordSource {
  /** The next record, undefined at the end; rejects if none arrives within `timeoutMs`. */
  next(timeoutMs: number): Promise<AskRecord | undefined>;
  cancel(reason?: unknown): Promise<void>;
}

export class RecordTimeout extends Error {
  override name = "RecordTimeout";
}

/** Reads newline-delimited records from a byte stream (the AskCoalescer's); `onCancel` runs when the reader gives up. */
export function streamRecords(stream: ReadableStream<Uint8Array>, onCancel?: () => void): RecordSource {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const read = async (): Promise<AskRecord | undefined> => {
    for (;;) {
      const end = buffer.indexOf("\n");
      if (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        return JSON.parse(line) as AskRecord;
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
  return {
    next: (timeoutMs) => race(read(), timeoutMs, () => new RecordTimeout(`no answer record within ${timeoutMs} ms`)),
    cancel: (reason) => {
      onCancel?.();
      return reader.cancel(reason).catch(() => {});
    },
  };
}

/** Records from a generator running in this request. */
export function generatorRecords(records: AsyncGenerator<AskRecord, void>, onCancel: () => void): RecordSource {
  return {
    next: async (timeoutMs) => {
      const step = await race(records.next(), timeoutMs, () => new RecordTimeout(`no answer record within ${timeoutMs} ms`));
      return step.done ? undefined : step.value;
    },
    cancel: async () => {
      onCancel();
      await records.return(undefined).catch(() => {});
    },
  };
}
