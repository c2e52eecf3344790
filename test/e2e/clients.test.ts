/**
 * The clients operators use besides skopeo, against Berth: podman (push and pull, login with an
 * htpasswd user, OCI and Docker formats), containerd's ctr (push and pull of an index, with and
 * without credentials) and the docker CLI's manifest commands (inspect; create and push of a
 * multi-platform list, which mounts blobs across repositories). Every tool must be installed
 * (scripts/ensure-test-deps.sh does it): a missing tool fails these tests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildIndexLayout, MediaTypes, parseIndex, sha256, tarArchive } from '../helpers/images.js';
import { runCommand, startServer, withServerOutput, type CommandResult, type ServerHandle } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { repoRoot, startBerth, type RegistryHandle } from '../helpers/registries.js';
import { copyToRegistry, inspect, skopeo } from '../helpers/skopeo.js';

const TEST_TIMEOUT = 120_000;
const USER = 'alice';
const PASSWORD = 'wonderland-0123';

/** Runs a client command; fails the test with its whole output unless it exits 0. */
async function must(command: string, args: readonly string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<CommandResult> {
  const result = await runCommand(command, args, { ...options, timeoutMs: 90_000 });
  assert.equal(result.code, 0, `${command} ${args.join(' ')} exited ${String(result.code)}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  return result;
}

/** GET of a manifest over plain HTTP (optionally with credentials): status and digest header. */
async function manifestDigest(host: string, name: string, reference: string, accept: string, auth?: string): Promise<{ status: number; digest: string | null; body: Buffer }> {
  const headers: Record<string, string> = { accept };
  if (auth !== undefined) headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;
  const res = await fetch(`http://${host}/v2/${name}/manifests/${reference}`, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: res.headers.get('docker-content-digest'), body };
}

describe('real clients against Berth: podman, containerd (ctr), docker manifest', { timeout: 10 * 60_000 }, () => {
  let work = '';
  let open: RegistryHandle | undefined;
  let locked: RegistryHandle | undefined;
  let containerd: ServerHandle | undefined;
  let ctrSocket = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-clients-'));
    const htpasswd = join(work, 'htpasswd');
    await writeFile(htpasswd, execFileSync(process.execPath, [join(repoRoot, 'bin', 'berth.js'), 'htpasswd', '-Bbn', USER, PASSWORD], { encoding: 'utf8' }));
    open = await startBerth({ rootdirectory: join(work, 'open') });
    const lockedPort = await freePort();
    locked = await startBerth({
      rootdirectory: join(work, 'locked'),
      env: { REGISTRY_AUTH: 'htpasswd', REGISTRY_AUTH_HTPASSWD_REALM: 'Berth', REGISTRY_AUTH_HTPASSWD_PATH: htpasswd },
      // Ready when it challenges: /v2/ answers 401 to a client without credentials.
      ready: async () => (await fetch(`http://127.0.0.1:${String(lockedPort)}/v2/`).catch(() => undefined))?.status === 401,
      port: lockedPort,
    });
  });

  after(async () => {
    await containerd?.stop();
    await open?.stop();
    await locked?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  const hostOf = (registry: RegistryHandle | undefined): string => {
    if (registry === undefined) throw new Error('registry not started');
    return registry.host;
  };

  const e2e = (name: string, fn: () => Promise<void>): void => {
    test(name, { timeout: TEST_TIMEOUT }, () =>
      withServerOutput(
        () => [
          { name: 'berth (open)', handle: open },
          { name: 'berth (htpasswd)', handle: locked },
          { name: 'containerd', handle: containerd },
        ],
        fn,
      ),
    );
  };

  /** podman with its own storage (vfs: no kernel features needed) under the work directory. */
  const podman = (store: string): ((args: readonly string[], stdin?: string) => Promise<CommandResult>) => {
    const base = ['--root', join(work, store, 'root'), '--runroot', join(work, store, 'run'), '--storage-driver', 'vfs'];
    return (args, stdin) => must('podman', [...base, ...args], { stdin });
  };

  e2e('podman logs in with an htpasswd user, pushes OCI and Docker images, and a second podman pulls them', async () => {
    const host = hostOf(locked);
    const authfile = join(work, 'podman-auth.json');
    const noAuth = join(work, 'podman-no-auth.json');
    await writeFile(noAuth, '{}');
    const rootfs = tarArchive([{ name: 'hello.txt', data: randomBytes(200_000) }]);
    const tarball = join(work, 'rootfs.tar');
    await writeFile(tarball, rootfs);
    const pusher = podman('podman-push');
    const ref = `${host}/team/podman`;

    // Without credentials the push is refused with the registry's challenge.
    await pusher(['import', tarball, `${ref}:oci`]);
    const refused = await runCommand('podman', ['--root', join(work, 'podman-push', 'root'), '--runroot', join(work, 'podman-push', 'run'), '--storage-driver', 'vfs', 'push', '--tls-verify=false', '--authfile', noAuth, `${ref}:oci`], { timeoutMs: 90_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /unauthorized|authentication required/i);

    await pusher(['login', '--tls-verify=false', '--authfile', authfile, '-u', USER, '--password-stdin', host], PASSWORD);
    await pusher(['push', '--tls-verify=false', '--authfile', authfile, '--format', 'oci', `${ref}:oci`]);
    await pusher(['tag', `${ref}:oci`, `${ref}:docker`]);
    await pusher(['push', '--tls-verify=false', '--authfile', authfile, '--format', 'v2s2', `${ref}:docker`]);

    const auth = `${USER}:${PASSWORD}`;
    const oci = await manifestDigest(host, 'team/podman', 'oci', MediaTypes.ociManifest, auth);
    assert.equal(oci.status, 200);
    assert.equal((JSON.parse(oci.body.toString('utf8')) as { mediaType?: string }).mediaType ?? MediaTypes.ociManifest, MediaTypes.ociManifest);
    const docker = await manifestDigest(host, 'team/podman', 'docker', MediaTypes.dockerManifest, auth);
    assert.equal(docker.status, 200);
    assert.equal((JSON.parse(docker.body.toString('utf8')) as { mediaType?: string }).mediaType, MediaTypes.dockerManifest);
    assert.equal(docker.digest, sha256(docker.body));

    const puller = podman('podman-pull');
    await puller(['pull', '--tls-verify=false', '--authfile', authfile, `${ref}:oci`]);
    await puller(['pull', '--tls-verify=false', '--authfile', authfile, `${ref}:docker`]);
    const repoDigests = JSON.parse((await puller(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${ref}:oci`])).stdout) as string[];
    assert.ok(repoDigests.includes(`${ref}@${oci.digest ?? 'missing'}`), `${JSON.stringify(repoDigests)} lacks the OCI manifest ${String(oci.digest)}`);
    assert.ok(repoDigests.includes(`${ref}@${docker.digest ?? 'missing'}`), `${JSON.stringify(repoDigests)} lacks the Docker manifest ${String(docker.digest)}`);
    // The pulled layer is the pushed file system, byte for byte.
    const mounted = (await puller(['image', 'inspect', '--format', '{{.RootFS.Layers}}', `${ref}:oci`])).stdout;
    assert.match(mounted, new RegExp(sha256(rootfs)));
  });

  /** Starts containerd (no CRI) with its root, state and socket under the work directory. */
  async function startContainerd(): Promise<void> {
    if (containerd !== undefined) return;
    const dir = join(work, 'containerd');
    await mkdir(dir, { recursive: true });
    ctrSocket = join(dir, 'containerd.sock');
    const config = join(dir, 'config.toml');
    await writeFile(
      config,
      [
        'version = 2',
        `root = "${join(dir, 'root')}"`,
        `state = "${join(dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${ctrSocket}"`,
        '[ttrpc]',
        `  address = "${join(dir, 'ttrpc.sock')}"`,
        '',
      ].join('\n'),
    );
    containerd = await startServer({
      name: 'containerd',
      command: 'containerd',
      args: ['--config', config],
      readyUrl: 'http://127.0.0.1/',
      ready: async () => (await runCommand('ctr', ['-a', ctrSocket, 'version'], { timeoutMs: 5_000 })).code === 0,
    });
  }

  const ctr = (args: readonly string[]): Promise<CommandResult> => must('ctr', ['-a', ctrSocket, ...args]);

  e2e('containerd pushes a multi-platform index (with and without credentials) and pulls it back by tag', async () => {
    await startContainerd();
    const layout = await buildIndexLayout(join(work, 'ctr-layout'));
    const archive = join(work, 'ctr-index.tar');
    execFileSync('tar', ['-C', layout.layoutDir, '-cf', archive, '.']);

    for (const [registry, user] of [
      [open, undefined],
      [locked, `${USER}:${PASSWORD}`],
    ] as const) {
      const host = hostOf(registry);
      // The layout names its index `latest`: ctr imports it as <base-name>:latest.
      const ref = `${host}/ctr/multi:latest`;
      // The native snapshotter (plain copies) unpacks on any file system, overlayfs or not.
      await ctr(['images', 'import', '--snapshotter', 'native', '--all-platforms', '--base-name', `${host}/ctr/multi`, archive]);
      const creds = user === undefined ? [] : ['--user', user];
      await ctr(['images', 'push', '--plain-http', ...creds, ref]);
      const served = await manifestDigest(host, 'ctr/multi', 'latest', MediaTypes.ociIndex, user);
      assert.equal(served.status, 200);
      assert.equal(served.digest, layout.digest, 'the registry serves the index containerd pushed');
      assert.equal(parseIndex(served.body).manifests.length, layout.images.length);

      await ctr(['images', 'rm', '--sync', ref]);
      await ctr(['images', 'pull', '--snapshotter', 'native', '--plain-http', '--all-platforms', ...creds, ref]);
      const listed = (await ctr(['images', 'ls'])).stdout;
      assert.match(listed, new RegExp(`${ref.replace(/[.]/g, '\\.')}\\s+${MediaTypes.ociIndex.replace(/[.+]/g, '\\$&')}\\s+${layout.digest}`));
      await ctr(['images', 'rm', '--sync', ref]);
    }
  });

  e2e('docker manifest inspects, then creates and pushes a list from images in other repositories', async () => {
    const host = hostOf(open);
    const env = { DOCKER_CONFIG: join(work, 'docker-config') };
    const layout = await buildIndexLayout(join(work, 'docker-layout'));
    // The platform images live in their own repositories, as a CI pipeline would push them:
    // the index goes in whole, then each platform image is copied out by digest.
    await copyToRegistry(layout.layoutDir, `${host}/docker/all:latest`, { all: true });
    const sources = [];
    for (const [i, image] of layout.images.entries()) {
      const repo = `${host}/docker/part${String(i)}`;
      await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${host}/docker/all@${image.manifest.digest}`, `docker://${repo}:latest`]);
      sources.push({ repo, image });
    }
    for (const { repo, image } of sources) {
      const inspected = JSON.parse((await must('docker', ['manifest', 'inspect', '--insecure', `${repo}:latest`], { env })).stdout) as { config: { digest: string } };
      assert.equal(inspected.config.digest, image.config.digest);
    }
    const list = `${host}/docker/app:1.0`;
    await must('docker', ['manifest', 'create', '--insecure', list, ...sources.map(({ repo, image }) => `${repo}@${image.manifest.digest}`)], { env });
    const pushed = await must('docker', ['manifest', 'push', '--insecure', '--purge', list], { env });
    const digest = /sha256:[a-f0-9]{64}/.exec(pushed.stdout.trim().split('\n').pop() ?? '')?.[0];
    assert.ok(digest !== undefined, `docker manifest push printed no digest: ${pushed.stdout}`);

    // OCI children make docker push an OCI index; Docker ones, a Docker manifest list.
    const served = await manifestDigest(host, 'docker/app', '1.0', `${MediaTypes.ociIndex}, ${MediaTypes.dockerManifestList}`);
    assert.equal(served.status, 200);
    assert.equal(served.digest, digest);
    const children = parseIndex(served.body).manifests.map((m) => m.digest).sort();
    assert.deepEqual(children, sources.map(({ image }) => image.manifest.digest).sort());
    // Every child is pullable from the list's repository: docker mounted what it referenced.
    for (const { image } of sources) {
      const info = await inspect(`${host}/docker/app@${image.manifest.digest}`);
      assert.deepEqual(info.Layers, image.layers.map((l) => l.digest));
    }
  });
});
