/**
 * Wires the web UI from its settings: the session codec, the access controller that accepts the session
 * (which the app then uses for every request), and the handler of `ui.path`. cli/serve.ts calls it with
 * the `ui` section and the controller it configured.
 */
import type { AccessController } from '../auth/access.js';
import { DEFAULT_UI_DIR, loadAssets } from './assets.js';
import { createUiHandler, type UiHandler } from './handler.js';
import { SessionAccessController } from './session-access.js';
import { SessionCodec } from './session.js';

/** What {@link createUi} needs. */
export interface CreateUiOptions {
  /** `ui.path`. */
  readonly path: string;
  /** `ui.session.maxage`, ms. */
  readonly sessionMaxAgeMs: number;
  /** `http.secret` (or the random one): signs the session cookies. */
  readonly secret: string;
  /** `http.prefix`, before /v2 and /berth/v1. */
  readonly apiPrefix: string;
  /** The controller as configured. */
  readonly access: AccessController;
  readonly auth: 'htpasswd' | 'token' | 'none';
  readonly deleteEnabled: boolean;
  readonly readOnly: boolean;
  /** Where the built UI is (default: dist/ui). */
  readonly dir?: string;
}

/** The UI's handler, and the access controller the app must use so the UI's session counts as credentials. */
export async function createUi(options: CreateUiOptions): Promise<{ handler: UiHandler; access: AccessController; built: boolean }> {
  const codec = new SessionCodec(options.secret, options.sessionMaxAgeMs);
  const access = new SessionAccessController(options.access, codec);
  const assets = await loadAssets(options.dir ?? DEFAULT_UI_DIR, { base: options.path, apiPrefix: options.apiPrefix });
  const handler = createUiHandler({
    path: options.path,
    assets,
    codec,
    login: options.access,
    access,
    auth: options.auth,
    deleteEnabled: options.deleteEnabled,
    readOnly: options.readOnly,
  });
  return { handler, access, built: assets.size > 0 };
}
