import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';

/**
 * A provider counts a request when it arrives, so the limiter's record of a start should be the
 * moment the request has reached the socket, not the moment fetch was called: between the two, fetch's
 * own work, a GC pause or the host taking the CPU away can take several ms (measured on this 2-core
 * VM: p99 8-16 ms through fetch, 1% of sends), and a request recorded early but written late can
 * arrive closer than a second to the one floor(rpm/60) places after it.
 *
 * Node's fetch (undici) publishes `undici:request:create` in the async context of the fetch call,
 * and `undici:request:bodySent` once the whole request is written. The first ties the request to the
 * caller (through AsyncLocalStorage), the second reports the write. Not `undici:client:sendHeaders`:
 * it comes before the write, and for a string or stream body (what fetch sends) the headers go out
 * only with the first chunk, after the body's iterator has turned: ~0.35 ms later here, and under load
 * several ms, by which the start would be recorded early. Recorded after the write, a start's record
 * is never earlier than its send, so the limiter's spacing of records holds for the sends themselves.
 * Where the channel does not fire (another fetch implementation, a request that failed mid-write),
 * `onWire` is not called and the stamp taken before fetch stands.
 */
const caller = new AsyncLocalStorage<() => void>();
const onWireOf = new WeakMap<object, () => void>();
let subscribed = false;

function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  diagnostics.subscribe('undici:request:create', (message) => {
    const onWire = caller.getStore();
    const request = (message as { request?: object }).request;
    if (onWire && request) onWireOf.set(request, onWire);
  });
  diagnostics.subscribe('undici:request:bodySent', (message) => {
    const request = (message as { request?: object }).request;
    if (request) onWireOf.get(request)?.();
  });
}

/** Runs `send` (a fetch call) and calls `onWire` each time one of its HTTP requests has been written to a socket. */
export function onRequestWritten<T>(onWire: () => void, send: () => Promise<T>): Promise<T> {
  subscribe();
  return caller.run(onWire, send);
}
