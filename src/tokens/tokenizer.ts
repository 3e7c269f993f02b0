/** Counts tokens the way the model that will read the text does. */
export interface Tokenizer {
  readonly encoding: string;
  count(text: string): number;
}

type Encoder = { encode(text: string): number[] };
const loaded = new Map<string, Promise<Encoder>>();

/**
 * The cl100k_base tokenizer from js-tiktoken. Its rank table (~1 MB) is imported and decoded
 * on first use and then kept for the isolate's life, so start-up and cached requests never pay for it.
 *
 * @example const tokens = (await tiktoken()).count("Hello there")
 */
export async function tiktoken(): Promise<Tokenizer> {
  const encoding = "cl100k_base";
  let encoder = loaded.get(encoding);
  if (!encoder) {
    encoder = (async () => {
      const [{ Tiktoken }, ranks] = await Promise.all([import("js-tiktoken/lite"), import("js-tiktoken/ranks/cl100k_base")]);
      return new Tiktoken(ranks.default);
    })();
    loaded.set(encoding, encoder);
    encoder.catch(() => loaded.delete(encoding));
  }
  const enc = await encoder;
  return { encoding, count: (text) => enc.encode(text).length };
}
