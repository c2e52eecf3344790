import type { RegistryEvent } from './event.js';

/**
 * Where the HTTP layer hands registry events. `emit` takes ownership of the event (it must not be
 * changed afterwards), returns at once in O(1) per endpoint, never throws and never waits for
 * delivery: a slow or dead receiver cannot slow a request.
 */
export interface EventSink {
  emit(event: RegistryEvent): void;
}
