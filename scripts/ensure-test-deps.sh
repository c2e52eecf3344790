#!/usr/bin/env bash
# Makes sure the Debian packages that the tests drive are installed.
#
# Each entry of TEST_DEPS is "command:package": the command the tests run and the Debian
# package that provides it. Add new ones here (one place) when a test needs another tool.
#
# - Everything present: prints nothing, calls no apt (fast path for every local `npm test`).
# - Something missing, running as root with apt-get: `apt-get update` once, then installs the
#   missing packages non-interactively, printing one line saying what it installs.
#   Package scripts are not allowed to start their daemons (redis-server and docker-registry
#   would otherwise start system services on their default ports): a policy-rc.d that refuses
#   is put in place for the install when the machine has none.
# - Otherwise: prints the exact command to run and exits 1.
set -euo pipefail

TEST_DEPS="skopeo:skopeo docker-registry:docker-registry redis-server:redis-server htpasswd:apache2-utils wrk:wrk radosgw:radosgw ceph-mon:ceph-mon ceph-osd:ceph-osd curl:curl openssl:openssl podman:podman containerd:containerd ctr:containerd docker:docker.io runc:runc tini-static:tini chromium:chromium"

missing=()
for dep in $TEST_DEPS; do
  cmd="${dep%%:*}"
  pkg="${dep#*:}"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    # Several commands may come from one package: list each package once.
    case " ${missing[*]-} " in
      *" $pkg "*) ;;
      *) missing+=("$pkg") ;;
    esac
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}"

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: missing test dependencies: ${missing[*]}" >&2
  echo "ensure-test-deps: install them with (as root):" >&2
  echo "  $install_cmd" >&2
  exit 1
fi

echo "ensure-test-deps: installing ${missing[*]}"

policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from berth scripts/ensure-test-deps.sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=1
fi
cleanup() {
  if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
}
trap cleanup EXIT

log="$(mktemp)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "ensure-test-deps: installing ${missing[*]} failed" >&2
  exit 1
fi
rm -f "$log"

for dep in $TEST_DEPS; do
  cmd="${dep%%:*}"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "ensure-test-deps: '$cmd' still missing after installing ${missing[*]}" >&2
    exit 1
  fi
done
