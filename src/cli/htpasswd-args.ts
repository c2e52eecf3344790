/**
 * The command line of `berth htpasswd`, parsed like Apache's htpasswd (same flags, messages and exit
 * codes; see htpasswd.ts), and the checks of user names and passwords it shares with the prompts.
 */
import { parseArgs } from 'node:util';
import { CLI_MAX_COST, CLI_MIN_COST, DEFAULT_BCRYPT_COST } from '../auth/htpasswd/hash.js';

/** Exit codes, as Apache's htpasswd documents them. */
export const HTPASSWD_EXIT = {
  OK: 0,
  FILE: 1,
  SYNTAX: 2,
  MISMATCH: 3,
  INTERRUPTED: 4,
  OVERFLOW: 5,
  BAD_USER: 6,
  INVALID_FILE: 7,
} as const;

const MAX_USER_BYTES = 255;
/** The longest password accepted, in bytes (as Apache's). */
export const MAX_PASSWORD_BYTES = 255;

/** What the command line asks for. */
export interface HtpasswdOptions {
  create: boolean;
  display: boolean;
  batch: boolean;
  stdin: boolean;
  delete: boolean;
  verify: boolean;
  cost: number;
  file?: string;
  user: string;
  password?: string;
}

/** A failure with its exit code and the message for standard error. */
export class HtpasswdFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

/** Says which argument is missing or extra (`-Bbn admin`: the password). */
function missingArguments(got: number, expected: number, o: { display: boolean; batch: boolean }): string {
  if (got > expected) return `too many arguments (expected ${expected})`;
  const names = [...(o.display ? [] : ['the password file']), 'a user name', ...(o.batch ? ['the password (-b takes it after the user name)'] : [])];
  return `missing ${names.slice(got).join(', then ')}`;
}

/** Apache's flags, for node:util's parseArgs (long names are ours: the command line takes none). */
const HTPASSWD_OPTIONS = {
  create: { type: 'boolean', short: 'c' },
  display: { type: 'boolean', short: 'n' },
  batch: { type: 'boolean', short: 'b' },
  stdin: { type: 'boolean', short: 'i' },
  bcrypt: { type: 'boolean', short: 'B' },
  delete: { type: 'boolean', short: 'D' },
  verify: { type: 'boolean', short: 'v' },
  cost: { type: 'string', short: 'C' },
} as const;

/**
 * Parses the command line like Apache's (apr_getopt): flags first, combinable, `-C cost` or `-Ccost`,
 * `--` ends them. The first operand ends the flags too: what follows is an operand even when it starts
 * with `-` (a password), so only the tokens before it count.
 */
export function parseHtpasswdArgs(args: readonly string[]): HtpasswdOptions {
  const o: Omit<HtpasswdOptions, 'user'> = { create: false, display: false, batch: false, stdin: false, delete: false, verify: false, cost: DEFAULT_BCRYPT_COST };
  const { tokens } = parseArgs({ args: [...args], options: HTPASSWD_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  let operands = args.length;
  for (const token of tokens) {
    if (token.kind !== 'option') {
      operands = token.kind === 'positional' ? token.index : token.index + 1;
      break;
    }
    // A long option is not one of Apache's: apr_getopt reads `--x` as the flag `-`.
    const flag = token.rawName.startsWith('--') ? '-' : token.rawName.slice(1);
    switch (flag) {
      case 'c':
        o.create = true;
        break;
      case 'n':
        o.display = true;
        break;
      case 'b':
        o.batch = true;
        break;
      case 'i':
        o.stdin = true;
        break;
      case 'B':
        break;
      case 'D':
        o.delete = true;
        break;
      case 'v':
        o.verify = true;
        break;
      case 'C':
        if (token.value === undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'option -C needs an argument', true);
        o.cost = parseCost(token.value);
        break;
      case 'm':
      case '2':
      case '5':
      case 'd':
      case 's':
      case 'p':
      case 'r':
        throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `-${flag} is not supported: Berth reads bcrypt entries only (-B, the default)`, true);
      default:
        throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `illegal option -- ${flag}`, true);
    }
  }
  const modes = [o.create, o.display, o.verify, o.delete].filter(Boolean).length;
  if (modes > 1) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'only one of -c -n -v -D may be specified');
  if (o.batch && o.stdin) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, '-b and -i cannot be combined', true);
  const positional = args.slice(operands);
  const expected = (o.display ? 1 : 2) + (o.batch ? 1 : 0);
  if (positional.length !== expected) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, missingArguments(positional.length, expected, o), true);
  const [first, second, third] = positional as [string, string | undefined, string | undefined];
  const options: HtpasswdOptions = o.display ? { ...o, user: first, password: o.batch ? second : undefined } : { ...o, file: first, user: second ?? '', password: o.batch ? third : undefined };
  checkUser(options.user);
  if (options.password !== undefined) checkPassword(options.password);
  return options;
}

function parseCost(value: string): number {
  if (!/^\d+$/.test(value)) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'argument to -C must be a positive integer');
  const cost = Number(value);
  if (cost < CLI_MIN_COST || cost > CLI_MAX_COST) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `bcrypt cost must be between ${CLI_MIN_COST} and ${CLI_MAX_COST}, got ${value}`);
  return cost;
}

function checkUser(user: string): void {
  if (Buffer.byteLength(user) > MAX_USER_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `username too long (> ${MAX_USER_BYTES})`);
  if (user.includes(':')) throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, "username contains illegal character ':'");
  if (user === '') throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, 'username must not be empty (clients treat an empty name as anonymous)');
  if (/[\0-\x1f\x7f]/.test(user)) throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, 'username contains a control character');
}

export function checkPassword(password: string): void {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `password too long (> ${MAX_PASSWORD_BYTES})`);
}
