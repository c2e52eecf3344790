/**
 * Turns what the HTTP handlers did into Distribution's events (its notifications/bridge.go): one
 * EventBridge per process, one RequestEvents per request, one method per thing that happened.
 * Handlers call the method after the operation succeeded; building an event never throws.
 */
import type { ParsedManifest } from '../oci/manifest.js';
import {
  BLOB_MEDIA_TYPE,
  buildEvent,
  requestRecord,
  type EventAction,
  type EventClock,
  type EventDescriptor,
  type EventTarget,
  type RequestLike,
  type RequestRecord,
  type SourceRecord,
} from './event.js';
import type { EventSink } from './sink.js';

/** What the bridge needs, built once at start-up. */
export interface EventBridgeOptions {
  readonly sink: EventSink;
  /** This instance (sourceRecord(config.http.addr)). */
  readonly source: SourceRecord;
  /** `notifications.events.includereferences`: add `target.references` to manifest push and pull events. */
  readonly includeReferences: boolean;
  readonly clock?: EventClock;
}

/** Per-request facts the events carry besides the request itself. */
export interface RequestEventContext {
  /** The authenticated user (the grant's user), if any: `actor.name`. */
  readonly actor?: string | undefined;
  /** Makes the absolute URL of a registry path (`/v2/<name>/blobs/<digest>`): http/respond.ts urlFor(ctx, path). */
  readonly urlFor: (path: string) => string;
  /** The request's id, when the HTTP layer has one; a UUID otherwise. */
  readonly requestId?: string | undefined;
}

/** A manifest as its push and pull events describe it. */
export interface ManifestEventInfo {
  readonly digest: string;
  readonly mediaType: string;
  /** The manifest's length in bytes. */
  readonly size: number;
  /** The tag it was pushed or pulled by, when it was addressed by tag. */
  readonly tag?: string | undefined;
  /**
   * What the manifest references (manifestReferences(parsed)); only used with includereferences,
   * so a function avoids parsing the manifest when the option is off.
   */
  readonly references?: readonly EventDescriptor[] | (() => readonly EventDescriptor[]) | undefined;
}

/** A blob as its push, pull and mount events describe it. */
export interface BlobEventInfo {
  readonly digest: string;
  readonly size: number;
  /** Default application/octet-stream, as Distribution reports blobs. */
  readonly mediaType?: string | undefined;
}

/** Builds events for the requests of one registry instance. */
export class EventBridge {
  readonly #options: EventBridgeOptions;

  constructor(options: EventBridgeOptions) {
    this.#options = options;
  }

  /** The event recorder of one request; cheap to create (the request record is built on first use). */
  forRequest(req: RequestLike, context: RequestEventContext): RequestEvents {
    return new RequestEvents(this.#options, req, context);
  }
}

/** The events of one request. Every method builds one event (or none, for a failing build) and emits it. */
export class RequestEvents {
  readonly #options: EventBridgeOptions;
  readonly #req: RequestLike;
  readonly #context: RequestEventContext;
  #record: RequestRecord | undefined;

  constructor(options: EventBridgeOptions, req: RequestLike, context: RequestEventContext) {
    this.#options = options;
    this.#req = req;
    this.#context = context;
  }

  /** PUT of a manifest succeeded (by tag: `tag` set). */
  manifestPushed(repository: string, manifest: ManifestEventInfo): void {
    this.#emit('push', () => this.#manifestTarget(repository, manifest));
  }

  /** GET (or HEAD, see docs/webhooks.md) of a manifest succeeded. */
  manifestPulled(repository: string, manifest: ManifestEventInfo): void {
    this.#emit('pull', () => this.#manifestTarget(repository, manifest));
  }

  /** DELETE of a manifest by digest succeeded. */
  manifestDeleted(repository: string, digest: string): void {
    this.#emit('delete', () => ({ repository, digest }));
  }

  /** An upload completed: the blob is in the repository. */
  blobPushed(repository: string, blob: BlobEventInfo): void {
    this.#emit('push', () => this.#blobTarget(repository, blob));
  }

  /** GET (or HEAD) of a blob succeeded, including a redirect to the storage backend. */
  blobPulled(repository: string, blob: BlobEventInfo): void {
    this.#emit('pull', () => this.#blobTarget(repository, blob));
  }

  /** A cross-repository mount linked `blob` from `fromRepository` into `repository`. */
  blobMounted(repository: string, blob: BlobEventInfo, fromRepository: string): void {
    this.#emit('mount', () => ({ ...this.#blobTarget(repository, blob), fromRepository }));
  }

  /** DELETE of a blob succeeded. */
  blobDeleted(repository: string, digest: string): void {
    this.#emit('delete', () => ({ repository, digest }));
  }

  /** A tag was deleted: DELETE by tag, or each tag removed with a manifest deleted by digest. */
  tagDeleted(repository: string, tag: string): void {
    this.#emit('delete', () => ({ repository, tag }));
  }

  #emit(action: EventAction, target: () => EventTarget): void {
    const { sink, source, clock } = this.#options;
    try {
      this.#record ??= requestRecord(this.#req, this.#context.requestId);
      const actor = this.#context.actor !== undefined ? { name: this.#context.actor } : {};
      sink.emit(buildEvent({ action, target: target(), request: this.#record, actor, source }, clock));
    } catch {
      // An event is a side effect of a request that already succeeded: losing it must not fail the
      // request. buildEvent is pure; this only guards against a throwing urlFor or references().
    }
  }

  #manifestTarget(repository: string, manifest: ManifestEventInfo): EventTarget {
    let references: readonly EventDescriptor[] | undefined;
    if (this.#options.includeReferences && manifest.references !== undefined) {
      try {
        references = typeof manifest.references === 'function' ? manifest.references() : manifest.references;
      } catch {
        references = undefined;
      }
    }
    return {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.size,
      repository,
      url: this.#context.urlFor(`/v2/${repository}/manifests/${manifest.digest}`),
      tag: manifest.tag,
      references,
    };
  }

  #blobTarget(repository: string, blob: BlobEventInfo): EventTarget {
    return {
      mediaType: blob.mediaType ?? BLOB_MEDIA_TYPE,
      digest: blob.digest,
      size: blob.size,
      repository,
      url: this.#context.urlFor(`/v2/${repository}/blobs/${blob.digest}`),
    };
  }
}

/**
 * The descriptors a manifest references, in Distribution's order (References()): an image's config
 * then its layers, an index's manifests. Foreign layers are not included (ParsedManifest leaves
 * them out of `blobs`).
 */
export function manifestReferences(manifest: ParsedManifest): EventDescriptor[] {
  return [...manifest.blobs, ...manifest.manifests].map((d) => ({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.urls !== undefined ? { urls: d.urls } : {}),
    ...(d.annotations !== undefined ? { annotations: d.annotations } : {}),
    ...(d.platform !== undefined ? { platform: d.platform } : {}),
  }));
}
