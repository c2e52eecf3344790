/**
 * The `auth.token` configuration section, as Distribution reads it
 * (registry/auth/token/accesscontroller.go, checkOptions), for config/schema.ts to plug in:
 *
 * ```yaml
 * auth:
 *   token:
 *     realm: https://auth.example.com/token   # where clients get tokens (required unless autoredirect)
 *     service: registry.example.com           # the audience tokens must name (required)
 *     issuer: auth.example.com                # the `iss` tokens must carry (required)
 *     rootcertbundle: /certs/token-ca.pem     # PEM certificates that x5c chains lead to, and whose keys `kid` may name
 *     jwks: /certs/token.jwks                 # a JSON Web Key Set file: keys `kid` may name
 *     signingalgorithms: [RS256, ES256]        # default: EdDSA, RS*, ES*, PS*
 *     autoredirect: false                     # derive the realm from the request's Host instead
 *     autoredirectpath: /auth/token           # the path used with autoredirect
 * ```
 *
 * At least one of `rootcertbundle` and `jwks` is required. Written with the field helpers of
 * src/config-fields/fields.ts (null means unset, a scalar where a string is expected is taken as its
 * text, YAML 1.1 booleans).
 */
import { z } from 'zod';
import { booleanField, optionalString, requiredString, stringField, unsetIfEmpty } from '../../config-fields/fields.js';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from './keys.js';
import type { KeyDocs } from '../../config-fields/schema-tree.js';

/** The default of `auth.token.autoredirectpath` (Distribution's defaultAutoRedirectPath). */
export const DEFAULT_AUTO_REDIRECT_PATH = '/auth/token';

/** The keys of `auth.token`, for error messages and the configuration reference. */
export const TOKEN_CONFIG_KEYS = ['realm', 'service', 'issuer', 'rootcertbundle', 'jwks', 'signingalgorithms', 'autoredirect', 'autoredirectpath'] as const;

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512']);

const signingAlgorithmsField = z.preprocess(
  (v) => {
    const value = unsetIfEmpty(v);
    return typeof value === 'string' ? [value] : value;
  },
  z
    .array(
      z.string().superRefine((alg, ctx) => {
        if (isSigningAlgorithm(alg)) return;
        const why = HMAC_ALGORITHMS.has(alg)
          ? `${alg} is refused: HMAC tokens need a shared secret, and Berth verifies tokens only with public keys`
          : alg.toLowerCase() === 'none'
            ? 'none is refused: tokens must be signed'
            : `unsupported signing algorithm: ${alg}`;
        ctx.addIssue({ code: 'custom', message: `${why} (supported: ${SIGNING_ALGORITHMS.join(', ')})` });
      }),
    )
    .optional(),
);

/** The zod schema of `auth.token`; its output is {@link TokenConfig}. */
export const tokenConfigSchema = z
  .strictObject({
    realm: optionalString(),
    service: requiredString('the audience tokens are issued for'),
    issuer: requiredString('the issuer tokens must name'),
    rootcertbundle: optionalString(),
    jwks: optionalString().refine((v) => v === undefined || !v.includes('://'), {
      message: 'must be a file path (a JWKS URL is not supported)',
    }),
    signingalgorithms: signingAlgorithmsField,
    autoredirect: booleanField(false),
    autoredirectpath: stringField(DEFAULT_AUTO_REDIRECT_PATH, { emptyMeansDefault: true }),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.rootcertbundle === undefined && cfg.jwks === undefined) {
      ctx.addIssue({ code: 'custom', path: ['rootcertbundle'], message: 'token auth requires at least one token signing key: set rootcertbundle or jwks' });
    }
    if (!cfg.autoredirect && cfg.realm === undefined) {
      ctx.addIssue({ code: 'custom', path: ['realm'], message: 'required: the token server URL clients are sent to (or set autoredirect)' });
    }
    if (cfg.autoredirect && !cfg.autoredirectpath.startsWith('/')) {
      ctx.addIssue({ code: 'custom', path: ['autoredirectpath'], message: 'must be an absolute path such as /auth/token' });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    realm: cfg.realm ?? '',
    signingalgorithms: cfg.signingalgorithms as SigningAlgorithm[] | undefined,
  }));

/** `auth.token` after validation and defaults. */
export type TokenConfig = z.output<typeof tokenConfigSchema>;

/** What docs/configuration.md says of each key of `auth.token` (relative key paths). */
export const tokenKeyDocs: KeyDocs = {
  realm: { type: 'string', default: 'required unless `autoredirect`', text: 'Where clients get tokens.' },
  service: { type: 'string', default: 'required', text: 'The audience tokens must name.' },
  issuer: { type: 'string', default: 'required', text: 'The `iss` tokens must carry.' },
  rootcertbundle: { type: 'string', default: '—', text: 'PEM certificates that token `x5c` chains lead to (this or `jwks` is required).' },
  jwks: { type: 'string', default: '—', text: 'A JSON Web Key Set file of signing keys, looked up by `kid`.' },
  signingalgorithms: { type: 'list', default: 'RS*, ES*, PS*, EdDSA', text: 'Accepted JWT algorithms (never `none` or HMAC).' },
  autoredirect: { type: 'boolean', default: '`false`', text: 'Derive the realm from the request\'s Host.' },
  autoredirectpath: { type: 'string', default: '`/auth/token`', text: 'The path used with `autoredirect`.' },
};
