#!/usr/bin/env node
// Builds Berth's container image without any image registry: `npm run image`.
//
// The runtime root file system is assembled from this machine: its `node` binary and the shared
// libraries `ldd` names, tini (Debian's tini-static) as PID 1, Berth's compiled JavaScript and the
// production dependencies only (no npm, no TypeScript, no tests). It is written as an OCI image
// (two gzip layers: runtime, then Berth) in an OCI archive, then loaded into podman's storage as
// localhost/berth:latest when podman is present. The Containerfile runs this same script with
// --rootfs to build the identical file system on top of an official Node image.
//
// Usage: node scripts/build-image.js [--out FILE] [--tag NAME] [--no-load] [--rootfs DIR]
//                                    [--podman-root DIR --podman-runroot DIR --storage-driver NAME]
//   --out        the OCI archive (default build/berth-image.oci.tar)
//   --tag        the name it is loaded as (default localhost/berth:latest)
//   --no-load    write the archive only
//   --rootfs     only assemble the root file system into DIR (used by the Containerfile)
//   --podman-*   containers storage to load into (tests use a scratch one)
// SOURCE_DATE_EPOCH fixes every timestamp (default: the last commit's time), so the same tree
// gives the same digests.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';

const root = resolve(new URL('..', import.meta.url).pathname);

/** What the image runs with: also written in the Containerfile (a test checks they agree). */
const IMAGE_CONFIG = {
  Entrypoint: ['/usr/bin/tini', '--', '/usr/local/bin/berth'],
  Cmd: ['serve'],
  Env: [
    'PATH=/usr/local/bin:/usr/bin:/bin',
    'NODE_ENV=production',
    'BERTH_CONFIG_SEARCH=/etc/docker/registry/config.yml:/etc/distribution/config.yml',
    'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
  ],
  ExposedPorts: { '5000/tcp': {} },
  Volumes: { '/var/lib/registry': {} },
  WorkingDir: '/',
  StopSignal: 'SIGTERM',
  Healthcheck: { Test: ['CMD', '/usr/local/bin/berth', 'healthcheck'], Interval: 30e9, Timeout: 5e9, StartPeriod: 5e9, Retries: 3 },
};

/** The configuration shipped at /etc/distribution/config.yml: registry:2's own, in Berth's words. */
const IMAGE_CONFIG_YAML = `# Berth's container image configuration (the same settings as registry:2's config.yml).
# Mount your own at /etc/distribution/config.yml or /etc/docker/registry/config.yml,
# or override any key with REGISTRY_* environment variables.
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

function fail(message) {
  console.error(`build-image: ${message}`);
  process.exit(1);
}

/** Copies a file to the same path under `dest`, following symlinks (the image holds real files). */
function copyInto(dest, path, mode) {
  const target = join(dest, path);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(path, target);
  chmodSync(target, mode ?? statSync(path).mode & 0o7777);
}

/** The shared libraries a binary loads, as `ldd` prints them (absolute paths). */
function sharedLibraries(binary) {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of out.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m !== null) libs.push(m[1]);
  }
  return libs;
}

function assembleRuntime(dest) {
  const node = process.execPath;
  copyInto(dest, node);
  const target = join(dest, 'usr/local/bin/node');
  if (node !== '/usr/local/bin/node') {
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(dest, node), target);
  }
  for (const lib of sharedLibraries(node)) copyInto(dest, lib);
  const tini = ['/usr/bin/tini-static', '/usr/bin/tini'].find((p) => existsSync(p));
  if (tini === undefined) fail('tini is missing: apt-get install -y tini');
  if (tini !== '/usr/bin/tini-static') for (const lib of sharedLibraries(tini)) copyInto(dest, lib);
  mkdirSync(join(dest, 'usr/bin'), { recursive: true });
  copyFileSync(tini, join(dest, 'usr/bin/tini'));
  chmodSync(join(dest, 'usr/bin/tini'), 0o755);
  // Certificates for HTTPS to S3, Azure and webhooks; name lookups from files, then DNS.
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) copyInto(dest, '/etc/ssl/certs/ca-certificates.crt', 0o644);
  writeFileSync(join(dest, 'etc/passwd'), 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(dest, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dest, 'etc/nsswitch.conf'), 'hosts: files dns\n');
  for (const dir of ['tmp', 'root']) mkdirSync(join(dest, dir), { recursive: true });
  chmodSync(join(dest, 'tmp'), 0o1777);
}

/** Production dependency folders (relative to the project), as npm resolved them. */
function productionPackages() {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && resolve(line) !== root)
    .map((line) => relative(root, line));
}

/** Files an installed package carries that nothing loads at run time. */
function runtimeFile(packageDir, hasExports) {
  return (source) => {
    const rel = relative(packageDir, source);
    if (rel === '') return true;
    if (/(^|\/)node_modules(\/|$)/.test(rel)) return false; // nested packages are listed and copied on their own
    if (/\.(d\.ts|d\.mts|d\.cts|map|md|markdown)$/i.test(rel)) return false;
    // Without an exports map Node loads `main` (CommonJS); the ES and type folders serve bundlers only.
    if (!hasExports && /^(dist-es|dist-types)(\/|$)/.test(rel)) return false;
    return true;
  };
}

function assembleApp(dest) {
  const app = join(dest, 'app');
  if (!existsSync(join(root, 'dist/src/cli/main.js'))) fail('dist/src is missing: run "npm run build" first');
  mkdirSync(app, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', license: pkg.license }, null, 2) + '\n');
  cpSync(join(root, 'bin'), join(app, 'bin'), { recursive: true });
  cpSync(join(root, 'dist/src'), join(app, 'dist/src'), { recursive: true, filter: (s) => !s.endsWith('.map') && !s.endsWith('.tsbuildinfo') });
  // The web UI's built files (index.html and hashed assets), served at ui.path.
  if (existsSync(join(root, 'dist/ui/index.html'))) cpSync(join(root, 'dist/ui'), join(app, 'dist/ui'), { recursive: true });
  for (const dir of productionPackages()) {
    const source = join(root, dir);
    const manifest = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
    cpSync(source, join(app, dir), { recursive: true, dereference: true, filter: runtimeFile(source, manifest.exports !== undefined) });
  }
  // Entry points: node scripts with a shebang, so the image needs no shell.
  const entry = (command) =>
    `#!/usr/local/bin/node\n// ${command === undefined ? 'berth' : command}: Berth's command line inside the image.\n` +
    `import('/app/dist/src/cli/main.js').then((m) => m.main(${command === undefined ? '' : `[${JSON.stringify(command)}].concat(`}process.argv.slice(2)${command === undefined ? '' : ')'})).then(\n` +
    `  (code) => { if (typeof code === 'number') process.exitCode = code; },\n` +
    `  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },\n);\n`;
  mkdirSync(join(dest, 'usr/local/bin'), { recursive: true });
  writeFileSync(join(dest, 'usr/local/bin/berth'), entry(undefined), { mode: 0o755 });
  writeFileSync(join(dest, 'usr/local/bin/htpasswd'), entry('htpasswd'), { mode: 0o755 });
  mkdirSync(join(dest, 'etc/distribution'), { recursive: true });
  writeFileSync(join(dest, 'etc/distribution/config.yml'), IMAGE_CONFIG_YAML);
  mkdirSync(join(dest, 'var/lib/registry'), { recursive: true });
}

/** Streams `tar` of a folder through SHA-256 (diff ID) and gzip (blob); returns both digests and the size. */
function writeLayer(dir, blobs, epoch) {
  return new Promise((resolvePromise, reject) => {
    const tmp = join(blobs, `.layer-${process.pid}-${Date.now()}`);
    const tar = spawn('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`, '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', dir, '-cf', '-', '.'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const diff = createHash('sha256');
    const blob = createHash('sha256');
    let size = 0;
    const gzip = createGzip({ level: 9 });
    const out = createWriteStream(tmp);
    tar.stdout.on('data', (chunk) => diff.update(chunk));
    gzip.on('data', (chunk) => {
      blob.update(chunk);
      size += chunk.length;
    });
    tar.stdout.pipe(gzip).pipe(out);
    tar.on('error', reject);
    let tarCode;
    tar.on('close', (code) => {
      tarCode = code;
    });
    out.on('error', reject);
    out.on('finish', () => {
      if (tarCode !== 0 && tarCode !== undefined) return reject(new Error(`tar exited with ${tarCode}`));
      const digest = blob.digest('hex');
      renameSync(tmp, join(blobs, digest));
      resolvePromise({ diffId: `sha256:${diff.digest('hex')}`, digest: `sha256:${digest}`, size });
    });
  });
}

function writeBlob(blobs, bytes) {
  const digest = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(blobs, digest), bytes);
  return { digest: `sha256:${digest}`, size: bytes.length };
}

function sourceDateEpoch() {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return Number(fromEnv);
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim()) || 0;
  } catch {
    return 0;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'build/berth-image.oci.tar') },
      tag: { type: 'string', default: 'localhost/berth:latest' },
      'no-load': { type: 'boolean', default: false },
      rootfs: { type: 'string' },
      'podman-root': { type: 'string' },
      'podman-runroot': { type: 'string' },
      'storage-driver': { type: 'string' },
    },
  });
  if (values.rootfs !== undefined) {
    rmSync(values.rootfs, { recursive: true, force: true });
    assembleRuntime(values.rootfs);
    assembleApp(values.rootfs);
    return;
  }
  const started = Date.now();
  const work = join(root, 'build/image');
  rmSync(work, { recursive: true, force: true });
  const runtime = join(work, 'runtime');
  const application = join(work, 'app');
  const layout = join(work, 'layout');
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(join(runtime, 'etc'), { recursive: true });
  mkdirSync(application, { recursive: true });
  mkdirSync(blobs, { recursive: true });
  assembleRuntime(runtime);
  assembleApp(application);

  const epoch = sourceDateEpoch();
  const layers = [await writeLayer(runtime, blobs, epoch), await writeLayer(application, blobs, epoch)];
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const created = new Date(epoch * 1000).toISOString();
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const labels = {
    'org.opencontainers.image.title': 'berth',
    'org.opencontainers.image.description': pkg.description,
    'org.opencontainers.image.version': pkg.version,
    'org.opencontainers.image.licenses': pkg.license,
  };
  const config = writeBlob(
    blobs,
    Buffer.from(
      JSON.stringify({
        created,
        architecture: arch,
        os: 'linux',
        config: { ...IMAGE_CONFIG, Labels: labels },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: [
          { created, created_by: `node ${process.version} runtime, its shared libraries and tini (scripts/build-image.js)` },
          { created, created_by: `berth ${pkg.version} and its production dependencies (scripts/build-image.js)` },
        ],
      }),
    ),
  );
  const manifest = writeBlob(
    blobs,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
        annotations: { ...labels, 'org.opencontainers.image.created': created },
      }),
    ),
  );
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }),
  );
  mkdirSync(dirname(values.out), { recursive: true });
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`, '-C', layout, '-cf', values.out, '.']);
  const compressed = layers.reduce((sum, l) => sum + l.size, 0);
  const uncompressed = Number(execFileSync('du', ['-sb', runtime, application], { encoding: 'utf8' }).split('\n').reduce((sum, line) => sum + (Number(line.split('\t')[0]) || 0), 0));
  console.log(`build-image: ${values.out}: manifest ${manifest.digest}`);
  console.log(`build-image: layers ${(compressed / 1e6).toFixed(1)} MB compressed, ${(uncompressed / 1e6).toFixed(1)} MB uncompressed, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  if (values['no-load']) return;
  const storage =
    values['podman-root'] !== undefined ? `[${values['storage-driver'] ?? 'overlay'}@${values['podman-root']}+${values['podman-runroot'] ?? join(values['podman-root'], 'run')}]` : '';
  const haveSkopeo = spawnOk('skopeo', ['--version']);
  const havePodman = spawnOk('podman', ['--version']);
  if (!haveSkopeo && !havePodman) {
    console.log('build-image: podman is not installed: the archive was written, nothing was loaded');
    return;
  }
  if (haveSkopeo) {
    execFileSync('skopeo', ['copy', '--quiet', `oci-archive:${values.out}`, `containers-storage:${storage}${values.tag}`], { stdio: 'inherit' });
  } else {
    const flags = [];
    if (values['podman-root'] !== undefined) flags.push('--root', values['podman-root']);
    if (values['podman-runroot'] !== undefined) flags.push('--runroot', values['podman-runroot']);
    if (values['storage-driver'] !== undefined) flags.push('--storage-driver', values['storage-driver']);
    const loaded = execFileSync('podman', [...flags, 'load', '-q', '-i', values.out], { encoding: 'utf8' });
    const id = /([0-9a-f]{64})/.exec(loaded)?.[1] ?? manifest.digest;
    execFileSync('podman', [...flags, 'tag', id, values.tag], { stdio: 'inherit' });
  }
  console.log(`build-image: loaded as ${values.tag}`);
}

function spawnOk(command, args) {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

await main();
