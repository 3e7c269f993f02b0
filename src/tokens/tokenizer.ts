/** Counts and cuts text in the tokens of the model that will read it. */
export interface Tokenizer {
  readonly encoding: Encoding;
  count(text: string): number;
  encode(text: string): number[];
  decode(tokens: number[]): string;
  /** The text cut to at most `maxTokens` tokens, keeping its start or its end. */
  truncate(text: string, maxTokens: number, keep?: "start" | "end"): string;
}

export const ENCODINGS = ["cl100k_base", "o200k_base"] as const;
export type Encoding = (typeof ENCODINGS)[number];

/**
 * The encoding of an OpenAI model name: o200k_base for the GPT-4o, GPT-4.1, GPT-5 and o-series
 * families, cl100k_base for everything else (GPT-4, GPT-3.5, embeddings, and the offline
 * answerer, whose budgets are counted like the stored chunk sizes).
 *
 * @example encodingForModel("gpt-4o-mini") // "o200k_base"
 */
export function encodingForModel(model: string): Encoding {
  return /^(?:gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o)/i.test(model) ? "o200k_base" : "cl100k_base";
}

type Encoder = { encode(text: string): number[]; countTokens(text: string): number; decode(tokens: number[]): string };
const loaded = new Map<Encoding, Promise<Encoder>>();

// Text like "<|endoftext|>" in a message is text, not a control token (the libraries' default is to throw).
const PLAIN = { disallowedSpecial: new Set<string>() };

async function importEncoder(encoding: Encoding): Promise<Encoder> {
  const mod =
    encoding === "o200k_base" ? await import("gpt-tokenizer/encoding/o200k_base") : await import("gpt-tokenizer/encoding/cl100k_base");
  return {
    encode: (text) => mod.encode(text, PLAIN),
    countTokens: (text) => mod.countTokens(text, PLAIN),
    decode: (tokens) => mod.decode(tokens),
  };
}

/**
 * A cut can split a multi-byte character, and decoding such token runs can yield U+FFFD (seen
 * mid-string too); replacement characters the original text did not have are dropped.
 */
const clean = (cut: string, original: string) =>
  original.includes("\uFFFD") ? cut.replace(/^\uFFFD+|\uFFFD+$/g, "") : cut.replaceAll("\uFFFD", "");

/**
 * A tokenizer for `encoding`, from gpt-tokenizer: in workerd it loads cl100k in ≈ 64 ms and
 * o200k in ≈ 100 ms with 24 / 44 MB, where js-tiktoken took 254 / 594 ms and 59 / 129 MB, and it
 * encodes 2–8× faster (npm run bench:tokenizer, docs/TOKENS.md). Its rank table is imported on
 * first use and kept for the isolate's life, so start-up and cached requests never pay for it.
 *
 * @example const n = (await loadTokenizer("cl100k_base")).count("Hello there")
 */
export async function loadTokenizer(encoding: Encoding): Promise<Tokenizer> {
  let encoder = loaded.get(encoding);
  if (!encoder) {
    encoder = importEncoder(encoding);
    loaded.set(encoding, encoder);
    encoder.catch(() => loaded.delete(encoding));
  }
  const enc = await encoder;
  return {
    encoding,
    count: (text) => enc.countTokens(text),
    encode: (text) => enc.encode(text),
    decode: (tokens) => enc.decode(tokens),
    truncate(text, maxTokens, keep = "start") {
      const tokens = enc.encode(text);
      if (tokens.length <= maxTokens) return text;
      // Re-encoding a cut can merge differently, so shrink until the result itself fits.
      for (let n = maxTokens; n > 0; n--) {
        const cut = clean(enc.decode(keep === "start" ? tokens.slice(0, n) : tokens.slice(tokens.length - n)), text);
        if (enc.encode(cut).length <= maxTokens) return cut;
      }
      return "";
    },
  };
}

/** The cl100k_base tokenizer: chunk sizes, retrieval budgets and query limits are counted in it. */
export const tiktoken = (): Promise<Tokenizer> => loadTokenizer("cl100k_base");

/** The tokenizer of a chat model (see encodingForModel). */
export const tokenizerForModel = (model: string): Promise<Tokenizer> => loadTokenizer(encodingForModel(model));
