import type { Logger } from 'pino';
import type { Registry } from '../storage/registry.js';
import type { RepositoryServices } from '../storage/services.js';
import type { RepositoryName } from '../oci/reference.js';
import type { AccessController, Grant } from '../auth/access.js';
import type { Route } from './router.js';
import type { RegistryRequest, RegistryResponse } from './exchange.js';
import type { UploadStateCodec } from './upload-state.js';
import type { UploadSlots } from './upload-slots.js';
import type { RegistryMetrics } from '../metrics/metrics.js';
import type { EventBridge } from '../notifications/bridge.js';
import type { RequestRateLimiter } from '../ratelimit/limiter.js';
import type { PullTimes, QuotaReport } from './management-seams.js';
import type { UiHandler } from '../ui/handler.js';

/** Everything the HTTP layer needs, built once from the configuration. */
export interface AppOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  readonly access: AccessController;
  /** Signs upload state; replicas behind one load balancer must share it. */
  readonly secret: string;
  /** Path prefix the registry is mounted under (`http.prefix`), '' or '/something'. */
  readonly prefix: string;
  /** Externally reachable base URL (`http.host`), '' to derive it from each request. */
  readonly host: string;
  readonly relativeUrls: boolean;
  /** Headers added to every response (`http.headers`). */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly deleteEnabled: boolean;
  readonly readOnly: boolean;
  /** Redirect blob GETs to the storage driver's URL when it offers one. */
  readonly redirect: boolean;
  readonly maxManifestBytes: number;
  /** Page size of the catalog when the client gives none, and the most it may ask for. */
  readonly catalogMaxEntries: number;
  readonly accessLog: boolean;
  /** Upload requests that may stream a body at once (`http.maxuploads`, default 512); more get 429. */
  readonly maxUploads?: number;
  /** Prometheus metrics (requests, bytes, uploads); absent: nothing is recorded. */
  readonly metrics?: RegistryMetrics | undefined;
  /** Builds webhook events; absent when no notification endpoint is configured. */
  readonly events?: EventBridge | undefined;
  /** Per-client request rate limits (`http.ratelimit`); absent: no limits, no cost. */
  readonly rateLimiter?: RequestRateLimiter | undefined;
  /** When images were last pulled, for the management API's `pulledAt`; absent: null. */
  readonly pullTimes?: PullTimes | undefined;
  /** Quotas and their usage, for `GET /berth/v1/usage`; absent: none. */
  readonly quotas?: QuotaReport | undefined;
  /** The web UI (`ui.enabled`), answering its own paths; absent: those paths are 404. */
  readonly ui?: UiHandler | undefined;
}

/** One request on its way through the lifecycle: route → authorize → handle → respond. */
export interface RequestContext {
  readonly req: RegistryRequest;
  readonly res: RegistryResponse;
  readonly route: Route;
  readonly query: URLSearchParams;
  readonly method: string;
  readonly app: AppContext;
  readonly log: Logger;
  readonly signal: AbortSignal;
  grant: Grant;
  /** Set for routes with a repository name, after it is validated. */
  name?: RepositoryName;
  /** The repository's services, as wrapped for this request (notifications). */
  repository?: RepositoryServices;
}

/** The built app's shared state: options and helpers derived from them once. */
export interface AppContext extends AppOptions {
  readonly states: UploadStateCodec;
  readonly uploadSlots: UploadSlots;
}
