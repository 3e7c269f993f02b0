/** pgvector's text form, "[0.1,0.2,…]": sent as a parameter and cast with ::vector. */
export function toVectorLiteral(v: ArrayLike<number>): string {
  let out = "[";
  for (let i = 0; i < v.length; i++) out += (i ? "," : "") + Number(v[i]!.toPrecision(7));
  return `${out}]`;
}

/** Parses pgvector's text form back into floats. */
export function fromVectorLiteral(text: string): Float32Array {
  const body = text.trim().replace(/^\[|\]$/g, "");
  return body ? Float32Array.from(body.split(","), Number) : new Float32Array(0);
}
