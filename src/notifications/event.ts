/**
 * Distribution's notification event, as it goes on the wire (notifications/event.go): an envelope
 * `{"events": [...]}` of events `{id, timestamp, action, target, request, actor, source}`. Field
 * names and omission rules follow the Go struct tags: empty strings, zero sizes and empty lists are
 * left out (`omitempty`), except `request.id`, `request.method` and `request.useragent`, and the
 * `target`, `request`, `actor` and `source` objects themselves, which are always present.
 *
 * Pure: no I/O. The clock and the id generator are injectable.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The envelope media type Distribution 2.x sends and most receivers check for (GitLab, Harbor and
 * hand-written hooks match on it). Distribution 3 renamed it to EVENTS_MEDIA_TYPE_V2 with the same
 * JSON; Berth sends v1.
 */
export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

/** The media type Distribution 3.x sets on the same envelope. */
export const EVENTS_MEDIA_TYPE_V2 = 'application/vnd.docker.distribution.events.v2+json';

/** Distribution's media type of a blob in blob events: blobs are stored untyped. */
export const BLOB_MEDIA_TYPE = 'application/octet-stream';

/** The four actions of Distribution's events. */
export const EVENT_ACTIONS = ['push', 'pull', 'delete', 'mount'] as const;

/** What happened: a push, pull, delete or cross-repository mount. */
export type EventAction = (typeof EVENT_ACTIONS)[number];

/** A content descriptor inside an event (`target` fields and `target.references` entries). */
export interface EventDescriptor {
  readonly mediaType?: string;
  readonly digest?: string;
  readonly size?: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: unknown;
}

/** What the event is about. Delete events carry only `repository` and `digest` (or `tag`). */
export interface EventTarget extends EventDescriptor {
  /** The size again, for receivers written before `size` existed (Distribution sets both). */
  readonly length?: number;
  readonly repository?: string;
  /** For a mount: the repository the blob was mounted from. */
  readonly fromRepository?: string;
  /** A URL the content can be fetched from (by digest). */
  readonly url?: string;
  readonly tag?: string;
  /** The descriptors a manifest references, when `notifications.events.includereferences` is set. */
  readonly references?: readonly EventDescriptor[];
}

/** The request that caused the event. */
export interface RequestRecord {
  readonly id: string;
  /** The client address: X-Forwarded-For's first entry, X-Real-Ip, or the socket's address:port. */
  readonly addr?: string;
  /** The Host header of the request. */
  readonly host?: string;
  readonly method: string;
  readonly useragent: string;
}

/** Who initiated the event: the authenticated user, when there is one. */
export interface ActorRecord {
  readonly name?: string;
}

/** Which registry instance generated the event. */
export interface SourceRecord {
  /** hostname:port of the instance. */
  readonly addr?: string;
  /** Identifies this process; changes at every start. */
  readonly instanceID?: string;
}

/** One event, in wire form (JSON.stringify gives Distribution's JSON). */
export interface RegistryEvent {
  readonly id: string;
  /** RFC 3339 time the event happened. */
  readonly timestamp: string;
  readonly action: EventAction;
  readonly target: EventTarget;
  readonly request: RequestRecord;
  readonly actor: ActorRecord;
  readonly source: SourceRecord;
}

/** The body of a notification request. */
export interface Envelope {
  readonly events: readonly RegistryEvent[];
}

/** What buildEvent needs; `id` and `timestamp` are generated. */
export interface EventInput {
  readonly action: EventAction;
  readonly target: EventTarget;
  readonly request: RequestRecord;
  readonly actor?: ActorRecord;
  readonly source: SourceRecord;
}

/** Injectable clock and id generator, for tests. */
export interface EventClock {
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/**
 * Builds an event with a fresh UUID and timestamp, normalizing the target as Distribution does:
 * `length` mirrors `size`, and empty values are omitted.
 */
export function buildEvent(input: EventInput, clock: EventClock = {}): RegistryEvent {
  return {
    id: (clock.newId ?? randomUUID)(),
    timestamp: (clock.now?.() ?? new Date()).toISOString(),
    action: input.action,
    target: normalizeTarget(input.target),
    request: normalizeRequest(input.request),
    actor: input.actor?.name !== undefined && input.actor.name !== '' ? { name: input.actor.name } : {},
    source: compact({ addr: input.source.addr, instanceID: input.source.instanceID }),
  };
}

/** The request body for a batch of events. */
export function serializeEnvelope(events: readonly RegistryEvent[]): string {
  const envelope: Envelope = { events };
  return JSON.stringify(envelope);
}

/** The headers of an HTTP request, as node:http gives them. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** The parts of an incoming request a RequestRecord is made of (an IncomingMessage fits). */
export interface RequestLike {
  readonly method?: string | undefined;
  readonly headers: HeaderBag;
  readonly socket?: { readonly remoteAddress?: string | undefined; readonly remotePort?: number | undefined } | null;
}

/**
 * The request record of an incoming request, as Distribution builds it (NewRequestRecord): the
 * client address prefers the first X-Forwarded-For entry, then X-Real-Ip, then the socket peer.
 * `id` identifies the request; share one record between the events of one request.
 */
export function requestRecord(req: RequestLike, id: string = randomUUID()): RequestRecord {
  const forwarded = first(req.headers['x-forwarded-for'])?.split(',')[0]?.trim();
  const realIp = first(req.headers['x-real-ip'])?.trim();
  const remote = req.socket?.remoteAddress;
  const port = req.socket?.remotePort;
  const peer = remote === undefined ? undefined : port === undefined ? remote : remote.includes(':') ? `[${remote}]:${port}` : `${remote}:${port}`;
  const addr = forwarded !== undefined && forwarded !== '' ? forwarded : realIp !== undefined && realIp !== '' ? realIp : peer;
  return normalizeRequest({
    id,
    addr,
    host: first(req.headers.host) ?? first(req.headers[':authority']),
    method: req.method ?? 'GET',
    useragent: first(req.headers['user-agent']) ?? '',
  });
}

/**
 * The source record of this instance, as Distribution builds it: the host name with the port of
 * `http.addr` (the address itself when it has no port), and an instance id fresh at each start.
 */
export function sourceRecord(httpAddr: string, instanceID: string = randomUUID(), host: string = hostname()): SourceRecord {
  const port = /:(\d+)$/.exec(httpAddr)?.[1];
  return { addr: port !== undefined && host !== '' ? `${host}:${port}` : httpAddr, instanceID };
}

function normalizeTarget(target: EventTarget): EventTarget {
  const size = target.size !== undefined && target.size > 0 ? target.size : undefined;
  const length = target.length !== undefined && target.length > 0 ? target.length : size;
  return compact({
    mediaType: target.mediaType,
    digest: target.digest,
    size,
    urls: nonEmpty(target.urls),
    annotations: target.annotations !== undefined && Object.keys(target.annotations).length > 0 ? target.annotations : undefined,
    platform: target.platform ?? undefined,
    length,
    repository: target.repository,
    fromRepository: target.fromRepository,
    url: target.url,
    tag: target.tag,
    references: nonEmpty(target.references)?.map((d) => normalizeDescriptor(d)),
  });
}

function normalizeDescriptor(d: EventDescriptor): EventDescriptor {
  return compact({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size !== undefined && d.size > 0 ? d.size : undefined,
    urls: nonEmpty(d.urls),
    annotations: d.annotations !== undefined && Object.keys(d.annotations).length > 0 ? d.annotations : undefined,
    platform: d.platform ?? undefined,
  });
}

function normalizeRequest(request: { id: string; addr?: string | undefined; host?: string | undefined; method: string; useragent: string }): RequestRecord {
  // id, method and useragent have no omitempty in Distribution: always present, even when empty.
  // The key order is the Go struct's: id, addr, host, method, useragent.
  return {
    id: request.id,
    ...(request.addr !== undefined && request.addr !== '' ? { addr: request.addr } : {}),
    ...(request.host !== undefined && request.host !== '' ? { host: request.host } : {}),
    method: request.method,
    useragent: request.useragent,
  };
}

/** Drops keys whose value is undefined or '' (Go's omitempty for strings; zero numbers are handled by the callers). */
function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== '') out[k] = v;
  return out as T;
}

function nonEmpty<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list !== undefined && list.length > 0 ? list : undefined;
}

function first(value: string | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}
