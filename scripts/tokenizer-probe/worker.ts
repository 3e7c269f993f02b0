// A probe Worker for npm run bench:tokenizer: /load loads a tokenizer and counts a short text,
// /encode encodes a sample `repeat` times, /ping does nothing (the floor).
import { type Enc, type Lib, type Loaded, loadTokenizer } from "./load.ts";

const loaded = new Map<string, Loaded>();
const SAMPLE = "On the project timeline: the beta slipped by two weeks because the search service failed load tests on Friday. ".repeat(40);

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/ping") return new Response("ok");
    const lib = url.searchParams.get("lib") as Lib;
    const enc = url.searchParams.get("enc") as Enc;
    const key = `${lib}:${enc}`;
    let tokenizer = loaded.get(key);
    if (!tokenizer) loaded.set(key, (tokenizer = await loadTokenizer(lib, enc)));
    if (url.pathname === "/load") return Response.json({ tokens: tokenizer.encode("Hello there, how is the launch going?").length });
    const repeat = Number(url.searchParams.get("repeat") ?? 1);
    let tokens = 0;
    for (let i = 0; i < repeat; i++) tokens += tokenizer.encode(SAMPLE).length;
    return Response.json({ tokens });
  },
};
