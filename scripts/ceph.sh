#!/usr/bin/env bash
# A throw-away single-node Ceph cluster with an S3 endpoint (radosgw), for tests.
#
# Usage: scripts/ceph.sh start|stop|status|env
#
#   start   reuses a running, healthy cluster under the state directory; otherwise kills whatever
#           is left there, wipes it and starts a fresh one: one monitor, one memstore OSD (data in
#           RAM), radosgw with the beast frontend, all on loopback, auth none, no systemd, no mgr.
#           Creates an S3 user with a fixed access/secret key and waits until S3 answers.
#           Progress goes to stderr; on success the `env` lines are printed on stdout.
#           On failure (or timeout) prints the daemons' logs and exits non-zero.
#   stop    kills every daemon of the cluster and removes the state directory.
#           `stop --if-started-by NAME` only does so when `start` ran with BERTH_CEPH_STARTED_BY=NAME
#           (so a test run stops the cluster it started, not one a developer keeps running).
#   status  prints "running" (exit 0) or "not running" (exit 1).
#   env     prints BERTH_S3_ENDPOINT, BERTH_S3_ACCESS_KEY, BERTH_S3_SECRET_KEY, BERTH_S3_REGION,
#           one KEY=value a line (use with: eval "$(scripts/ceph.sh env)").
#
# Environment (all optional):
#   BERTH_CEPH_DIR            state directory (default /tmp/berth-ceph)
#   BERTH_CEPH_MON_PORT       monitor port, msgr2 only (default 26789)
#   BERTH_CEPH_RGW_PORT       S3 port (default 27480)
#   BERTH_CEPH_MS_PORT_MIN/MAX ports the OSD binds (default 26800-26899)
#                             The defaults lie below Linux's ephemeral range (32768-60999): a port
#                             in that range can be taken, between the check and the bind, by any
#                             outgoing connection, and a busy test run makes thousands of them.
#   BERTH_CEPH_ACCESS_KEY / BERTH_CEPH_SECRET_KEY   the S3 user's keys
#   BERTH_CEPH_OBJECTSTORE    memstore (default: data in RAM, starts in ~1-2 s) or bluestore (data in a
#                             sparse file under the state directory, starts in ~8 s, RAM stays ~200 MB)
#   BERTH_CEPH_MEMSTORE_BYTES capacity of the in-memory OSD (default 4 GiB). RAM is used as data is
#                             stored, and deleted data is freed only after radosgw's garbage
#                             collection (about a minute); tcmalloc keeps the high-water mark.
#   BERTH_CEPH_BLUESTORE_BYTES size of the bluestore file (default 20 GiB, sparse)
#   BERTH_CEPH_TIMEOUT        seconds `start` may take before it gives up (default 120)
#   BERTH_CEPH_STARTED_BY     recorded by `start` for `stop --if-started-by`
#
# Needs the Debian packages radosgw, ceph-mon and ceph-osd (they bring ceph-common and ceph-base).
# Settings that matter are explained next to them in the generated ceph.conf.
set -euo pipefail

DIR="${BERTH_CEPH_DIR:-/tmp/berth-ceph}"
MON_PORT="${BERTH_CEPH_MON_PORT:-26789}"
RGW_PORT="${BERTH_CEPH_RGW_PORT:-27480}"
MS_PORT_MIN="${BERTH_CEPH_MS_PORT_MIN:-26800}"
MS_PORT_MAX="${BERTH_CEPH_MS_PORT_MAX:-26899}"
ACCESS_KEY="${BERTH_CEPH_ACCESS_KEY:-BERTHTESTACCESSKEY00}"
SECRET_KEY="${BERTH_CEPH_SECRET_KEY:-berthTestSecretKey0000000000000000000000}"
OBJECTSTORE="${BERTH_CEPH_OBJECTSTORE:-memstore}"
MEMSTORE_BYTES="${BERTH_CEPH_MEMSTORE_BYTES:-4294967296}"
BLUESTORE_BYTES="${BERTH_CEPH_BLUESTORE_BYTES:-21474836480}"
TIMEOUT="${BERTH_CEPH_TIMEOUT:-120}"
STARTED_BY="${BERTH_CEPH_STARTED_BY:-manual}"
REGION="us-east-1"
USER_ID="berth"
HOST="127.0.0.1"
DAEMONS="mon.a osd.0 client.rgw.a"

CONF="$DIR/ceph.conf"
LOCK="$DIR.lock"
START_SECONDS=$SECONDS
LAUNCHED=""
# What a running cluster must have been started with to be reused.
SETTINGS="objectstore=$OBJECTSTORE mon=$MON_PORT rgw=$RGW_PORT ms=$MS_PORT_MIN-$MS_PORT_MAX access_key=$ACCESS_KEY"

log() { echo "ceph.sh: $*" >&2; }

# Every ceph/radosgw-admin call goes through here: our config, and a bound on how long it may hang.
ceph_cli() { timeout 30 ceph -c "$CONF" --connect-timeout 20 "$@"; }
rgw_admin() { timeout 60 radosgw-admin -c "$CONF" -n client.admin "$@"; }

print_env() {
  echo "BERTH_S3_ENDPOINT=http://$HOST:$1"
  echo "BERTH_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "BERTH_S3_SECRET_KEY=$SECRET_KEY"
  echo "BERTH_S3_REGION=$REGION"
}

pid_of() { # daemon name → pid, when its pid file names a live daemon of this cluster
  local file="$DIR/run/$1.pid" pid
  [ -s "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A pid file outliving a reboot may name an unrelated process now: it must run with our ceph.conf.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "-c $CONF " || return 1
  echo "$pid"
}

port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null; }

# One HTTP request to radosgw with bash's /dev/tcp (no curl needed): prints the status code.
http_status() {
  local path="$1" port="$2" line
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
    IFS= read -r line <&3 && echo "$line"
  ' "$HOST" "$port" "$path" 2>/dev/null | awk '{print $2}'
}

# Healthy: every daemon alive, and radosgw answers a request that has to reach the OSD
# (looking up a bucket that does not exist reads the bucket index pool).
healthy() {
  local name port status
  [ -f "$DIR/ready" ] || return 1
  [ "$(cat "$DIR/settings" 2>/dev/null)" = "$SETTINGS" ] || return 1
  for name in $DAEMONS; do pid_of "$name" >/dev/null || return 1; done
  port="$(cat "$DIR/rgw-port" 2>/dev/null)" || return 1
  # Every daemon is alive: a slow answer means a busy radosgw (other test files are using it), not
  # a dead one. Ask a few times before `start` decides to wipe a cluster others depend on.
  local attempt
  for attempt in 1 2 3 4 5 6; do
    status="$(http_status /berth-health-probe "$port")"
    if [ "$status" = 404 ] || [ "$status" = 200 ] || [ "$status" = 403 ]; then return 0; fi
    [ "$attempt" -lt 6 ] && sleep 1
  done
  return 1
}

dump_logs() {
  local f
  echo "ceph.sh: ---- logs under $DIR/log ----" >&2
  for f in "$DIR"/log/*; do
    [ -f "$f" ] || continue
    echo "---- $f (last 40 lines) ----" >&2
    tail -n 40 "$f" >&2
  done
  echo "ceph.sh: ---- end of logs ----" >&2
}

fail() {
  log "start failed after $((SECONDS - START_SECONDS)) s: $*"
  dump_logs
  kill_daemons
  exit 1
}

kill_daemons() {
  local name pid pids=() i
  for name in $DAEMONS; do
    if pid="$(pid_of "$name")"; then pids+=("$pid"); kill "$pid" 2>/dev/null || true; fi
  done
  # Also processes started by a `start` that died before writing pid files: they run with our
  # ceph.conf. (/proc rather than pgrep: procps is not always installed.)
  local cmdline
  for cmdline in /proc/[0-9]*/cmdline; do
    pid="${cmdline#/proc/}"; pid="${pid%/cmdline}"
    [ "$pid" != "$$" ] || continue
    if tr '\0' ' ' 2>/dev/null <"$cmdline" | grep -qF -- "-c $CONF "; then
      pids+=("$pid"); kill "$pid" 2>/dev/null || true
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  for i in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
}

# Waits until `$@` succeeds, polling every 0.2 s, up to the overall deadline; fails at once when
# a daemon started so far has exited.
wait_for() {
  local what="$1" name; shift
  while ! "$@" >/dev/null 2>&1; do
    [ $((SECONDS - START_SECONDS)) -lt "$TIMEOUT" ] || fail "timed out after ${TIMEOUT} s waiting for $what"
    for name in $LAUNCHED; do
      pid_of "$name" >/dev/null || fail "$name exited while waiting for $what (see $DIR/log/$name.out and $name.log)"
    done
    sleep 0.2
  done
}

# Runs a daemon in the foreground of its own session, so it outlives this script (and the test
# process that ran it) and is not hit by a terminal's Ctrl-C meant for the tests.
launch() {
  local name="$1"; shift
  setsid "$@" -c "$CONF" -f >"$DIR/log/$name.out" 2>&1 </dev/null 9>&- &
  # $! is the daemon itself (setsid execs in place); radosgw writes no pid file in the foreground.
  echo "$!" >"$DIR/run/$name.pid"
  LAUNCHED="$LAUNCHED $name"
}

write_conf() {
  local fsid="$1"
  cat >"$CONF" <<EOF
# Generated by scripts/ceph.sh: a single-node test cluster on loopback. Everything lives in $DIR.
[global]
fsid = $fsid
mon_host = v2:$HOST:$MON_PORT
mon_initial_members = a
public_addr = $HOST
cluster_addr = $HOST
# msgr2 only, on a small loopback port range.
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_port_min = $MS_PORT_MIN
ms_bind_port_max = $MS_PORT_MAX
# No cephx. Every connection mode must then be crc: radosgw defaults to "secure" for the monitor
# connection, which cannot work without cephx (it hangs with "get_initial_auth_request returned -13").
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_mon_cluster_mode = crc
ms_mon_service_mode = crc
ms_client_mode = crc
ms_cluster_mode = crc
ms_service_mode = crc
# One OSD: pools of one replica, no failure domain above the OSD, few PGs.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
mon_allow_pool_delete = true
# The monitor batches map changes for a second by default; radosgw's start-up makes about a dozen
# of them (pools, applications), one after another. Proposing at once makes start-up ~3x faster.
paxos_propose_interval = 0.01
paxos_min_wait = 0.01
# State, sockets, logs: all under $DIR.
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $DIR/log/\$name.log
mon_cluster_log_file = $DIR/log/cluster.log
crash_dir = $DIR/crash
keyring = $DIR/keyring
mon_data = $DIR/mon/\$cluster-\$id
osd_data = $DIR/osd/\$cluster-\$id
log_to_stderr = false
err_to_stderr = true
daemonize = false

[osd]
osd_objectstore = $OBJECTSTORE
# memstore: data in RAM, fast to create and to throw away.
memstore_device_bytes = $MEMSTORE_BYTES
# bluestore: data in a sparse file, outside the OSD's data directory (a "block" path inside it
# becomes a symlink to itself); RAM stays near the cache size however much is stored.
bluestore_block_path = $DIR/bluestore.block
bluestore_block_size = $BLUESTORE_BYTES
bluestore_block_create = true
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
# Names as long as radosgw needs them.
osd_max_object_name_len = 256
osd_max_object_namespace_len = 64
osd_heartbeat_grace = 60

[client.rgw.a]
# tcp_nodelay: without it every response whose body follows its headers in a second write (GET,
# LIST) waits ~40 ms for a delayed ACK (Nagle).
rgw_frontends = beast endpoint=$HOST:$RGW_PORT tcp_nodelay=1
rgw_data = $DIR/rgw
# Server-side encryption headers (storage.s3.encrypt) are accepted over plain HTTP.
rgw_crypt_require_ssl = false
# Deleted data goes back to the in-memory OSD after a minute, not the default two hours.
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
rgw_thread_pool_size = 64
EOF
}

start_cluster() {
  if healthy; then
    log "reusing the running cluster under $DIR"
    print_env "$(cat "$DIR/rgw-port")"
    return 0
  fi
  for cmd in ceph ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph-authtool; do
    command -v "$cmd" >/dev/null 2>&1 || {
      log "'$cmd' is missing: install the Debian packages radosgw ceph-mon ceph-osd"
      exit 1
    }
  done
  if [ -d "$DIR" ]; then
    log "no healthy cluster under $DIR: wiping it"
    kill_daemons
    rm -rf "$DIR"
  fi
  local port
  for port in "$MON_PORT" "$RGW_PORT"; do
    if port_in_use "$port"; then
      log "port $HOST:$port is in use by another process: stop it, or choose other ports with BERTH_CEPH_MON_PORT / BERTH_CEPH_RGW_PORT"
      exit 1
    fi
  done
  mkdir -p "$DIR"/{run,log,crash,mon,osd,rgw}
  echo "$STARTED_BY" >"$DIR/started-by"
  echo "$SETTINGS" >"$DIR/settings"
  local fsid osd_uuid osd_id
  fsid="$(cat /proc/sys/kernel/random/uuid)"
  osd_uuid="$(cat /proc/sys/kernel/random/uuid)"
  write_conf "$fsid"
  log "starting a cluster under $DIR (monitor $HOST:$MON_PORT, S3 $HOST:$RGW_PORT)"

  # Monitor: a keyring with only mon. in it (mkfs wants one even without cephx), a one-entry monmap.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >"$DIR/log/mkfs.out" 2>&1 \
    || fail "ceph-authtool failed: $(cat "$DIR/log/mkfs.out")"
  monmaptool --create --fsid "$fsid" --addv a "[v2:$HOST:$MON_PORT]" "$DIR/monmap" >>"$DIR/log/mkfs.out" 2>&1 \
    || fail "monmaptool failed: $(cat "$DIR/log/mkfs.out")"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >>"$DIR/log/mkfs.out" 2>&1 \
    || fail "ceph-mon --mkfs failed: $(cat "$DIR/log/mkfs.out")"
  launch mon.a ceph-mon -i a
  wait_for "the monitor" ceph_cli mon stat

  # OSD: registered with the monitor, then a memstore data directory.
  osd_id="$(ceph_cli osd new "$osd_uuid" 2>>"$DIR/log/mkfs.out")" || fail "ceph osd new failed"
  mkdir -p "$DIR/osd/ceph-$osd_id"
  ceph-osd -c "$CONF" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/mkfs.out" 2>&1 \
    || fail "ceph-osd --mkfs failed: $(tail -n 20 "$DIR/log/mkfs.out")"
  launch "osd.$osd_id" ceph-osd -i "$osd_id"

  # radosgw waits for the OSD by itself (it creates its pools and writes to them on start-up).
  launch client.rgw.a radosgw -n client.rgw.a
  wait_for "radosgw to answer on $HOST:$RGW_PORT" rgw_answers
  log "radosgw answers after $((SECONDS - START_SECONDS)) s; creating the S3 user"

  rgw_admin user create --uid="$USER_ID" --display-name="Berth tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$DIR/log/user.out" 2>&1 \
    || fail "radosgw-admin user create failed: $(cat "$DIR/log/user.out")"
  echo "$RGW_PORT" >"$DIR/rgw-port"
  touch "$DIR/ready"
  healthy || fail "the cluster started but does not look healthy"
  log "ready after $((SECONDS - START_SECONDS)) s"
  print_env "$RGW_PORT"
}

rgw_answers() {
  local status
  status="$(http_status /berth-health-probe "$RGW_PORT")"
  [ "$status" = 404 ] || [ "$status" = 200 ] || [ "$status" = 403 ]
}

stop_cluster() {
  if [ "${1:-}" = "--if-started-by" ]; then
    local who
    who="$(cat "$DIR/started-by" 2>/dev/null || true)"
    if [ "$who" != "${2:-}" ]; then
      [ -d "$DIR" ] && log "leaving the cluster under $DIR running (started by '${who:-?}', not '${2:-}')"
      return 0
    fi
  fi
  kill_daemons
  rm -rf "$DIR"
}

with_lock() {
  mkdir -p "$(dirname "$LOCK")"
  exec 9>"$LOCK"
  # Concurrent test files all call `start`: one starts the cluster, the others then reuse it.
  flock -w "$((TIMEOUT + 60))" 9 || { log "could not lock $LOCK"; exit 1; }
  "$@"
}

case "${1:-}" in
  start) with_lock start_cluster ;;
  stop) shift; with_lock stop_cluster "$@" ;;
  status)
    if healthy; then echo running; else echo "not running"; exit 1; fi
    ;;
  env)
    print_env "$(cat "$DIR/rgw-port" 2>/dev/null || echo "$RGW_PORT")"
    ;;
  *)
    echo "usage: $0 start|stop [--if-started-by NAME]|status|env" >&2
    exit 2
    ;;
esac
