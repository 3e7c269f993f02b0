// Loads one tokenizer (library × encoding) on demand: shared by the Node and the workerd probes.
export type Lib = "js-tiktoken" | "gpt-tokenizer";
export type Enc = "cl100k_base" | "o200k_base";
export interface Loaded {
  encode(text: string): number[];
}

export async function loadTokenizer(lib: Lib, enc: Enc): Promise<Loaded> {
  if (lib === "js-tiktoken") {
    const { Tiktoken } = await import("js-tiktoken/lite");
    const ranks = enc === "o200k_base" ? await import("js-tiktoken/ranks/o200k_base") : await import("js-tiktoken/ranks/cl100k_base");
    return new Tiktoken(ranks.default);
  }
  const mod = enc === "o200k_base" ? await import("gpt-tokenizer/encoding/o200k_base") : await import("gpt-tokenizer/encoding/cl100k_base");
  return { encode: (text) => mod.encode(text) };
}
