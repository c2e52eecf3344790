// Part of `berth serve`: the web UI from the `ui` section (see src/ui/).
import type { AccessController } from '../auth/access.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { createUi } from '../ui/create-ui.js';

/** The web UI (`ui.enabled`): its handler, and the access controller that accepts its session cookie. */
export async function startUi(config: Config, access: AccessController, secret: string, logger: Logger): Promise<Awaited<ReturnType<typeof createUi>> | undefined> {
  if (!config.ui.enabled) return undefined;
  const ui = await createUi({
    path: config.ui.path,
    sessionMaxAgeMs: config.ui.session.maxage,
    secret,
    apiPrefix: config.http.prefix,
    access,
    auth: config.auth?.htpasswd !== undefined ? 'htpasswd' : config.auth?.token !== undefined ? 'token' : 'none',
    deleteEnabled: config.storage.delete.enabled,
    readOnly: config.storage.maintenance.readonly.enabled,
  });
  if (ui.built) logger.info({ path: config.ui.path }, 'serving the web UI');
  else logger.warn({ path: config.ui.path }, 'the web UI is not built (dist/ui is missing): run "npm run build"');
  return ui;
}
