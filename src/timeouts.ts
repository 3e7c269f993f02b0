import { ChatError } from "./providers/chat-model.ts";

/** The provider sent nothing within the first-token timeout. */
export class FirstTokenTimeout extends Error {
  override name = "FirstTokenTimeout";
}

/** Milliseconds since `from` (a performance.now() value), to two decimals: the unit of every timing. */
export const elapsedMs = (from: number) => Math.round((performance.now() - from) * 100) / 100;

/** `work`, or the error `onTimeout` makes if it takes longer than `ms`. */
export function race<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The stream's first step, or FirstTokenTimeout (aborting the upstream call) after `ms`. */
export function firstWithin<T, R>(stream: AsyncGenerator<T, R>, ms: number, upstream: AbortController): Promise<IteratorResult<T, R>> {
  const step = stream.next();
  step.catch(() => {}); // after a timeout the aborted step rejects; nobody waits for it any more
  return race(step, ms, () => {
    const err = new FirstTokenTimeout(`no first token within ${ms} ms`);
    upstream.abort(err);
    return err;
  });
}

/** The stream's next step, or a ChatError (aborting the upstream call) after `ms` of silence. */
export function nextWithin<T, R>(stream: AsyncGenerator<T, R>, ms: number, upstream: AbortController): Promise<IteratorResult<T, R>> {
  const step = stream.next();
  step.catch(() => {});
  return race(step, ms, () => {
    const err = new ChatError(`chat provider sent nothing for ${ms} ms`);
    upstream.abort(err);
    return err;
  });
}

/** Runs `work` with a signal that aborts after `ms`, rejecting then. */
export function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  return race(work(controller.signal), ms, () => {
    const err = new ChatError(`no answer within ${ms} ms`);
    controller.abort(err);
    return err;
  });
}
