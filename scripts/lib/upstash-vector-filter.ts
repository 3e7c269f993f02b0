// The part of Upstash Vector's metadata filter language that the semantic cache uses, parsed
// into a tree and compiled to a Postgres condition on a jsonb column: comparisons (= != < <= > >=)
// and CONTAINS on a field path, joined by AND / OR with parentheses; string ('…' or "…") and
// number literals. Anything else is refused with the position, as Upstash answers a bad filter
// with an error rather than ignoring it.

export class FilterError extends Error {}

type Literal = string | number;
export type Filter =
  | { kind: "and" | "or"; parts: Filter[] }
  | { kind: "compare"; field: string[]; op: "=" | "!=" | "<" | "<=" | ">" | ">="; value: Literal }
  | { kind: "contains"; field: string[]; value: Literal };

type Token = { type: "word" | "op" | "string" | "number" | "(" | ")"; text: string; value?: Literal; at: number };

function tokens(source: string): Token[] {
  const out: Token[] = [];
  const re =
    /\s*(?:(\()|(\))|(<=|>=|!=|=|<|>)|'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])|([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*))/y;
  let at = 0;
  while (at < source.length) {
    if (/^\s*$/.test(source.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(source);
    if (!m) throw new FilterError(`unexpected character at ${at + (source.slice(at).length - source.slice(at).trimStart().length)}`);
    const start = m.index + m[0].length - m[0].trimStart().length;
    if (m[1]) out.push({ type: "(", text: "(", at: start });
    else if (m[2]) out.push({ type: ")", text: ")", at: start });
    else if (m[3]) out.push({ type: "op", text: m[3], at: start });
    else if (m[4] !== undefined || m[5] !== undefined) out.push({ type: "string", text: m[0], value: m[4] ?? m[5]!, at: start });
    else if (m[6]) out.push({ type: "number", text: m[6], value: Number(m[6]), at: start });
    else out.push({ type: "word", text: m[7]!, at: start });
    at = re.lastIndex;
  }
  return out;
}

/** Parses a filter; throws FilterError on anything outside the subset. */
export function parseFilter(source: string): Filter {
  const list = tokens(source);
  let i = 0;
  const peek = () => list[i];
  const fail = (what: string): never => {
    const t = peek();
    throw new FilterError(t ? `${what} at ${t.at}, found '${t.text}'` : `${what} at the end of the filter`);
  };
  const keyword = (word: string) => peek()?.type === "word" && peek()!.text.toUpperCase() === word;
  const joined = (kind: "and" | "or", next: () => Filter): Filter => {
    const parts = [next()];
    while (keyword(kind.toUpperCase())) {
      i++;
      parts.push(next());
    }
    return parts.length === 1 ? parts[0]! : { kind, parts };
  };
  const literal = (): Literal => {
    const t = peek();
    if (t?.type !== "string" && t?.type !== "number") return fail("expected a string or number literal");
    i++;
    return t!.value!;
  };
  const primary = (): Filter => {
    const t = peek();
    if (t?.type === "(") {
      i++;
      const inner = or();
      if (peek()?.type !== ")") fail("expected ')'");
      i++;
      return inner;
    }
    if (t?.type !== "word" || ["AND", "OR", "CONTAINS"].includes(t.text.toUpperCase())) return fail("expected a field name");
    i++;
    const field = t!.text.split(".");
    if (keyword("CONTAINS")) {
      i++;
      return { kind: "contains", field, value: literal() };
    }
    const op = peek();
    if (op?.type !== "op") return fail("expected an operator (= != < <= > >= CONTAINS)");
    i++;
    return { kind: "compare", field, op: op!.text as Extract<Filter, { kind: "compare" }>["op"], value: literal() };
  };
  const and = () => joined("and", primary);
  const or = (): Filter => joined("or", and);
  if (!list.length) throw new FilterError("empty filter");
  const tree = or();
  if (i < list.length) fail("expected AND, OR or the end of the filter");
  return tree;
}

/**
 * The filter as a Postgres condition on `column` (jsonb), with its literals as parameters
 * numbered from `firstParam`. A field of another type than the literal never matches (as in Upstash).
 */
export function filterToSql(filter: Filter, column: string, firstParam = 1): { sql: string; params: Literal[] } {
  const params: Literal[] = [];
  const param = (value: Literal) => {
    params.push(value);
    return `$${firstParam + params.length - 1}${typeof value === "number" ? "::numeric" : "::text"}`;
  };
  const walk = (f: Filter): string => {
    if ("parts" in f) return `(${f.parts.map(walk).join(f.kind === "and" ? " AND " : " OR ")})`;
    // Field names are identifiers (the tokenizer allows nothing else), so they can be inlined.
    const path = `${column} #> '{${f.field.join(",")}}'`;
    const type = typeof f.value === "number" ? "number" : "string";
    if (f.kind === "contains")
      return `(CASE WHEN jsonb_typeof(${path}) = 'array' THEN (${path}) @> jsonb_build_array(${param(f.value)}) ELSE false END)`;
    const value = type === "number" ? `(${path} #>> '{}')::numeric` : `(${path} #>> '{}') COLLATE "C"`;
    const op = f.op === "!=" ? "<>" : f.op;
    return `(CASE WHEN jsonb_typeof(${path}) = '${type}' THEN ${value} ${op} ${param(f.value)} ELSE false END)`;
  };
  return { sql: walk(filter), params };
}
