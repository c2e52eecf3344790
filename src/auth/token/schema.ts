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
 * At least one of `rootcertbundle` and `jwks` is required. Values follow the conventions of
 * config/schema.ts (null means unset, a scalar where a string is expected is taken as its text,
 * YAML 1.1 booleans), repeated here so this file depends on zod alone.
 */
import { z } from 'zod';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from './keys.js';

/** The default of `auth.token.autoredirectpath` (Distribution's defaultAutoRedirectPath). */
export const DEFAULT_AUTO_REDIRECT_PATH = '/auth/token';

/** The keys of `auth.token`, for error messages and the configuration reference. */
export const TOKEN_CONFIG_KEYS = ['realm', 'service', 'issuer', 'rootcertbundle', 'jwks', 'signingalgorithms', 'autoredirect', 'autoredirectpath'] as const;

const HMAC_ALGORITHMS = new Set(['HS256', 'HS384', 'HS512']);

function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

const YAML11_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE']);
const YAML11_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE']);

const optionalString = () => z.preprocess((v) => (v === '' ? undefined : scalarToString(v)), z.string().optional());

const requiredString = (what: string) =>
  z.preprocess(scalarToString, z.string({ error: (issue) => (issue.input === undefined ? `required: ${what}` : undefined) }).min(1, { message: `must not be empty: ${what}` }));

const booleanField = (defaultValue: boolean) =>
  z.preprocess((v) => {
    if (typeof v === 'string') return YAML11_TRUE.has(v) ? true : YAML11_FALSE.has(v) ? false : v;
    return v === null ? undefined : v;
  }, z.boolean().default(defaultValue));

const signingAlgorithmsField = z.preprocess(
  (v) => {
    if (v === null || v === '') return undefined;
    return typeof v === 'string' ? [v] : v;
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
    autoredirectpath: z.preprocess((v) => (v === '' ? undefined : scalarToString(v)), z.string().default(DEFAULT_AUTO_REDIRECT_PATH)),
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
