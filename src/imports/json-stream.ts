// Values picked out of a JSON document as its bytes arrive. @streamparser/json-whatwg's Tokenizer
// lexes the bytes; the small path walker below assembles only the values under the requested
// paths and forgets each one once it is handed over. Its own JSONParser stream is not used: it
// deep-copies the parser's stack for every value it emits (JSON.parse(JSON.stringify(stack)) in
// cloneParsedElementInfo, 0.0.22), and the stack holds the array being walked, so reading n
// messages cost O(n²): 10,000 messages took 10 s, 40,000 took 193 s on this machine.
import { Tokenizer, TokenType } from "@streamparser/json-whatwg";
import { ImportError } from "./format.ts";

/** A value's place in the document: object keys and array indices from the root. */
export type JsonPath = readonly (string | number)[];

/** Keys to follow from the root; "*" is any element of an array (never an object key). */
export type JsonPattern = readonly string[];

export interface JsonMatch {
  path: JsonPath;
  value: unknown;
  /**
   * For an object or array: where reading can go on after it (jsonValues' `resume`). Valid until
   * the next value is asked for.
   */
  resume?: () => JsonResume;
}

/** Where a document read before goes on: the input then starts at byte `at`, inside the containers `frames` describe. */
export interface JsonResume {
  at: number;
  frames: WalkedFrame[];
}

/** A container on the way to the requested values, as JSON. */
export interface WalkedFrame {
  array: boolean;
  key: string | number | undefined;
  expect: Frame["expect"];
  patterns: readonly JsonPattern[];
}

type Container = Record<string, unknown> | unknown[];

interface Frame {
  array: boolean;
  /** The key or index being read (objects: undefined until the first key). */
  key: string | number | undefined;
  /** What the next token must be. */
  expect: "first" | "key" | "colon" | "value" | "next";
  /** Built: the value is assembled (it or an ancestor was asked for); walked: some pattern goes deeper; skipped: neither. */
  mode: "built" | "walked" | "skipped";
  value: Container | undefined;
  /** Walked frames: the patterns still matching this frame's path. */
  patterns: readonly JsonPattern[];
  /** Built frames: whether this frame is the requested value itself (emitted when it closes). */
  requested: boolean;
}

/** RFC 6901 pointer of a path, for error messages: "#/messages/17/author". */
export function pointer(path: JsonPath): string {
  return `#${path.map((k) => `/${String(k).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("")}`;
}

/**
 * Streams the values at `patterns` out of a JSON document, in document order, each once it is
 * complete. Everything else is read but not kept, so memory is bounded by the largest requested
 * value. A container on the way to a pattern must have the pattern's shape (an array where "*"
 * follows, an object where a key does). Bytes that are not UTF-8, malformed or truncated JSON and
 * data after the document fail with ImportError at `${file}#/pointer`. With `resume` (a match's
 * `resume()` of an earlier read), `input` is the document from `resume.at` on.
 *
 * @example for await (const { path, value } of jsonValues(body, [["messages", "*"]], "result.json")) handle(path[1], value);
 */
export async function* jsonValues(
  input: ReadableStream<Uint8Array>,
  patterns: readonly JsonPattern[],
  file: string,
  resume?: JsonResume,
): AsyncGenerator<JsonMatch> {
  const walker = new PathWalker(patterns, file, resume?.frames);
  // The tokenizer counts a token's offset from the first byte it is given, a byte order mark left out.
  const start = { offset: resume?.at ?? 0 };
  const tokens = input.pipeThrough(utf8Checked(file, start)).pipeThrough(new Tokenizer()).getReader();
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof tokens.read>>;
      try {
        next = await tokens.read();
      } catch (error) {
        if (error instanceof ImportError) throw error;
        const message = error instanceof Error ? error.message : String(error);
        // The tokenizer's words for a file that stops inside a string, number or literal.
        const detail = message.startsWith("Tokenizer ended in the middle of a token")
          ? "the file ends before the JSON does (truncated?)"
          : message;
        throw new ImportError(`${file}${pointer(walker.path())}`, `not valid JSON: ${detail}`);
      }
      if (next.done) break;
      const { token, value, offset } = next.value;
      const matches = walker.token(token, value);
      if (!matches) continue;
      if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
        const at = start.offset + offset + 1;
        for (const match of matches) match.resume = () => ({ at, frames: walker.frames() });
      }
      yield* matches;
    }
    walker.end();
  } finally {
    await tokens.cancel().catch(() => {});
  }
}

/**
 * Passes bytes through, failing on the first that is not UTF-8 (a fatal decoder), in chunks that
 * end on a character boundary: the tokenizer (0.0.22) garbles a character split over three chunks.
 * A byte order mark at the start of the file is dropped, and `start.offset` moved past it.
 */
function utf8Checked(file: string, start: { offset: number }): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let offset = start.offset;
  let carry: Uint8Array | undefined;
  let first = start.offset === 0;
  const check = (chunk?: Uint8Array) => {
    try {
      if (chunk) decoder.decode(chunk, { stream: true });
      else decoder.decode();
    } catch {
      throw new ImportError(
        file,
        `not UTF-8 text (an invalid byte sequence within bytes ${offset}–${offset + (chunk?.length ?? 0)}): export it again as UTF-8 JSON`,
      );
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      let bytes = chunk;
      if (carry) {
        bytes = new Uint8Array(carry.length + chunk.length);
        bytes.set(carry);
        bytes.set(chunk, carry.length);
      }
      const whole = completeLength(bytes);
      carry = whole < bytes.length ? bytes.slice(whole) : undefined;
      bytes = bytes.subarray(0, whole);
      check(bytes);
      offset += bytes.length;
      // Characters arrive whole, so a byte order mark is all here once anything is.
      if (first && bytes.length > 0) {
        first = false;
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
          bytes = bytes.subarray(3);
          start.offset = 3;
        }
      }
      if (bytes.length > 0) controller.enqueue(bytes);
    },
    flush(controller) {
      if (carry) controller.enqueue(carry);
      check();
      // The tokenizer reports a file cut inside a token when it is closed, and an erroring stream
      // drops the tokens not yet read: an empty last chunk waits until they are, so the error
      // points at the right place.
      controller.enqueue(new Uint8Array(0));
    },
  });
}

/** How many leading bytes hold whole UTF-8 characters: all but an unfinished sequence at the end. */
function completeLength(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if (byte < 0x80) return bytes.length;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? bytes.length - back : bytes.length;
    }
  }
  return bytes.length;
}

class PathWalker {
  #stack: Frame[] = [];
  #done = false;
  #started = false;

  constructor(
    private readonly patterns: readonly JsonPattern[],
    private readonly file: string,
    frames?: WalkedFrame[],
  ) {
    if (!frames) return;
    this.#started = true;
    this.#stack = frames.map((f) => ({ ...f, mode: "walked", value: undefined, requested: false }));
  }

  /** The containers open now, to go on from here in another read; all of them walked (between requested values). */
  frames(): WalkedFrame[] {
    return this.#stack.map(({ array, key, expect, patterns, mode }) => {
      if (mode !== "walked") throw new Error("a JSON read can only go on from between requested values");
      return { array, key, expect, patterns };
    });
  }

  path(): JsonPath {
    return this.#stack.flatMap((f) => (f.key === undefined ? [] : [f.key]));
  }

  end(): void {
    if (!this.#started) this.#fail("the file is empty: no JSON value");
    if (!this.#done) this.#fail("the file ends before the JSON does (truncated?)");
  }

  /** Feeds one token; returns the values it completed, if any. */
  token(type: TokenType, value: unknown): JsonMatch[] | undefined {
    if (this.#done) this.#fail("unexpected data after the end of the JSON document");
    const top = this.#stack.at(-1);
    if (!top) return this.#value(type, value, undefined);
    switch (top.expect) {
      case "first":
        if (top.array ? type === TokenType.RIGHT_BRACKET : type === TokenType.RIGHT_BRACE) return this.#close();
        if (top.array) return this.#value(type, value, top);
        return this.#key(type, value, top);
      case "key":
        return this.#key(type, value, top);
      case "colon":
        if (type !== TokenType.COLON) this.#unexpected(type);
        top.expect = "value";
        return undefined;
      case "value":
        return this.#value(type, value, top);
      case "next":
        if (type === TokenType.COMMA) {
          if (top.array) top.key = (top.key as number) + 1;
          top.expect = top.array ? "value" : "key";
          return undefined;
        }
        if (top.array ? type === TokenType.RIGHT_BRACKET : type === TokenType.RIGHT_BRACE) return this.#close();
        return this.#unexpected(type);
    }
  }

  #key(type: TokenType, value: unknown, top: Frame): undefined {
    if (type !== TokenType.STRING) this.#unexpected(type);
    top.key = value as string;
    top.expect = "colon";
    return undefined;
  }

  #value(type: TokenType, value: unknown, parent: Frame | undefined): JsonMatch[] | undefined {
    this.#started = true;
    const opens = type === TokenType.LEFT_BRACE || type === TokenType.LEFT_BRACKET;
    const scalar =
      type === TokenType.STRING ||
      type === TokenType.NUMBER ||
      type === TokenType.TRUE ||
      type === TokenType.FALSE ||
      type === TokenType.NULL;
    if (!opens && !scalar) this.#unexpected(type);
    if (parent) parent.expect = "next";

    let mode: Frame["mode"];
    let patterns: readonly JsonPattern[] = [];
    let requested = false;
    if (!parent) {
      patterns = this.patterns;
      requested = patterns.some((p) => p.length === 0);
      mode = requested ? "built" : "walked";
    } else if (parent.mode === "built") mode = "built";
    else if (parent.mode === "skipped") mode = "skipped";
    else {
      const depth = this.#stack.length - 1;
      const key = parent.key!;
      patterns = parent.patterns.filter((p) => (p[depth] === "*" ? typeof key === "number" : p[depth] === key));
      requested = patterns.some((p) => p.length === depth + 1);
      mode = requested ? "built" : patterns.length > 0 ? "walked" : "skipped";
    }

    if (mode === "walked") {
      const depth = this.#stack.length;
      const wantsArray = patterns.some((p) => p[depth] === "*");
      const isArray = type === TokenType.LEFT_BRACKET;
      if (!opens || wantsArray !== isArray) {
        const path = parent ? [...this.path()] : [];
        throw new ImportError(`${this.file}${pointer(path)}`, `expected ${wantsArray ? "an array" : "an object"}`);
      }
    }

    if (scalar) {
      if (mode !== "built") return undefined;
      if (parent?.mode === "built") assign(parent, value);
      return requested ? [{ path: this.path(), value }] : undefined;
    }

    const array = type === TokenType.LEFT_BRACKET;
    const container: Container | undefined = mode === "built" ? (array ? [] : {}) : undefined;
    if (container && parent?.mode === "built") assign(parent, container);
    this.#stack.push({ array, key: array ? 0 : undefined, expect: "first", mode, value: container, patterns, requested });
    return undefined;
  }

  #close(): JsonMatch[] | undefined {
    const frame = this.#stack.pop()!;
    if (this.#stack.length === 0) this.#done = true;
    return frame.requested ? [{ path: this.path(), value: frame.value }] : undefined;
  }

  #unexpected(type: TokenType): never {
    this.#fail(`unexpected ${TokenType[type]?.toLowerCase().replace("_", " ") ?? "token"}`);
  }

  #fail(detail: string): never {
    throw new ImportError(`${this.file}${pointer(this.path())}`, `not valid JSON: ${detail}`);
  }
}

function assign(parent: Frame, value: unknown): void {
  const target = parent.value!;
  if (Array.isArray(target)) target.push(value);
  // "__proto__" is an own key in JSON, not the prototype (JSON.parse keeps it the same way).
  else if (parent.key === "__proto__")
    Object.defineProperty(target, "__proto__", { value, enumerable: true, writable: true, configurable: true });
  else target[parent.key as string] = value;
}
