#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The peers benchmark: one durable produce -> consume -> ack workload (256-byte messages,
# 4 producers, 4 consumers, batches of 64 and 512) on Redis Streams, PostgreSQL 15, RabbitMQ
# quorum queues and NATS JetStream, each from Debian's packages on loopback with a temporary
# data directory, then on cairn (a node over HTTP batches, and embedded), in one run.
# Prints one table with cairn's ratio to each peer; the raw JSON lines go to a file.
#
# Usage: bash bench/peers/run.sh [--messages N] [--rounds N] [--build DIR] [--no-build]
#   --messages N   messages per run (default 200000)
#   --rounds N     run every system N times, in turn (default 1); with more than one, a last
#                  table gives each ratio's median over the rounds (this machine's speed drifts
#                  by tens of per cent within minutes, so one round can favour either side)
#   --build DIR    the CMake build directory (default build); configured (Release) if it is not
#   --no-build     use the binaries already in DIR
# Run as root on Debian bookworm: it installs the peers' packages if missing and runs each server
# as its own system user. CAIRN_PEERS_ONLY=1 leaves cairn out (and does not build it).
# Progress and build output go to stderr; the table to stdout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

messages=200000
rounds=1
build=$repo/build
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=${2:?--messages needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --build) build=$(realpath -m "${2:?--build needs a value}"); shift 2 ;;
    --no-build) do_build=0; shift ;;
    -h | --help) sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $messages =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --messages must be a positive integer" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds must be a positive integer" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh: run it as root (servers run as their system users)" >&2; exit 1; }
cd "$repo"
peers_only=${CAIRN_PEERS_ONLY:-0}
batches=(64 512)
pgbin=/usr/lib/postgresql/15/bin

say() { echo "peers: $*" >&2; }

# --- packages and build ----------------------------------------------------------------------
pkgs=(redis-server libhiredis-dev postgresql-15 libpq-dev rabbitmq-server librabbitmq-dev
      nats-server libnats-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  # The packages would start their system-wide services; this benchmark starts its own, so a
  # policy-rc.d (the Debian mechanism for this) refuses service starts during the install.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  status=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
    status=$?
  if [ "$own_policy" -eq 1 ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  [ "$status" -eq 0 ] || { echo "run.sh: installing ${missing[*]} failed" >&2; exit 1; }
fi

targets=(cairn_peer_redis cairn_peer_pg cairn_peer_rabbitmq cairn_peer_nats)
[ "$peers_only" = 1 ] || targets=(cairn "${targets[@]}")
if [ "$do_build" -eq 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
  else
    # Configured again: a build configured before the client libraries were installed (by this
    # script, an interrupted run of it, or by hand) has no drivers' targets.
    cmake -S . -B "$build" >&2
  fi
  cmake --build "$build" --target "${targets[@]}" >&2
fi
peers_bin=$build/bench/peers
cairn_bin=$build/tools/cairn/cairn
for t in "${targets[@]}"; do
  bin=$peers_bin/$t
  [ "$t" = cairn ] && bin=$cairn_bin
  [ -x "$bin" ] || { echo "run.sh: $bin is not built (run without --no-build to build it)" >&2; exit 1; }
done

# --- servers -----------------------------------------------------------------------------------
tmp_root=$(mktemp -d /tmp/cairn-peers.XXXXXX)
chmod 711 "$tmp_root" # the postgres and rabbitmq users reach their own directories inside
redis_pid="" nats_pid="" rabbit_pid="" epmd_pid="" node_pid="" pg_data=""

# Stops a child: SIGTERM, SIGKILL after the grace period.
stop_pid() {
  local pid=$1 grace=${2:-30} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_postgres() {
  [ -n "$pg_data" ] || return 0
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$pg_data" -m "${1:-fast}" -w stop >/dev/null 2>&1 || true
  pg_data=""
}

stop_rabbitmq() {
  # The start script turns SIGTERM into a clean broker stop; the group kill catches what is left.
  if [ -n "$rabbit_pid" ]; then
    stop_pid "$rabbit_pid" 60
    kill -KILL -- "-$rabbit_pid" 2>/dev/null || true
    rabbit_pid=""
  fi
  if [ -n "$epmd_pid" ]; then stop_pid "$epmd_pid" 5; epmd_pid=""; fi
}

cleanup() {
  [ -z "$redis_pid" ] || stop_pid "$redis_pid"
  [ -z "$nats_pid" ] || stop_pid "$nats_pid"
  [ -z "$node_pid" ] || stop_pid "$node_pid" 60
  stop_rabbitmq
  stop_postgres immediate
  rm -rf "$tmp_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Picks a free loopback port outside Linux's ephemeral range, never the same twice in a run;
# sets the variable named $1.
used_ports=" "
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    case "$used_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      printf -v "$1" '%s' "$p"
      return
    fi
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for SECONDS PID LOG COMMAND...: until COMMAND succeeds; fails early if PID has exited.
wait_for() {
  local secs=$1 pid=$2 log=$3 i
  shift 3
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  say "the server did not become ready; the end of $log:"
  tail -n 20 "$log" >&2 || true
  return 1
}

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; }

# --- results -----------------------------------------------------------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$peers_bin"
results=$(cd "$peers_bin" && pwd)/results-$stamp.jsonl
: > "$results"
# "round|system|durability|batch|msgs/s|p99 ms|kind|CPU|cores" with kind peer, cairn or failed
rows=()
round=1
failed=0
declare -A cairn_http cairn_http64

# The whole machine's CPU over one run (every process: server, client, kernel), from /proc/stat.
# cpu_begin before a run; cpu_end sets cpu_cols to "µs per message|cores busy".
cpu_begin() { read -r _ cpu_u cpu_n cpu_s cpu_i cpu_w cpu_q cpu_sq cpu_st _ < /proc/stat; }
cpu_end() {
  local u n s i w q sq st
  read -r _ u n s i w q sq st _ < /proc/stat
  cpu_cols=$(awk -v busy=$((u + n + s + q + sq + st - cpu_u - cpu_n - cpu_s - cpu_q - cpu_sq - cpu_st)) \
    -v idle=$((i + w - cpu_i - cpu_w)) -v hz="$(getconf CLK_TCK)" -v m="$messages" -v ncpu="$(nproc)" \
    'BEGIN { if (busy + idle == 0) { print "-|-"; exit }
             printf "%.1f|%.2f", busy / hz * 1e6 / m, busy / ((busy + idle) / ncpu) }')
}

json_num() { sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" <<< "$1" | head -n 1; }
json_str() { sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" <<< "$1" | head -n 1; }

# run_peer DRIVER LABEL PORT: both batch sizes against a running server.
run_peer() {
  local driver=$1 label=$2 port=$3 b out
  for b in "${batches[@]}"; do
    say "$label, batch $b"
    cpu_begin
    if out=$("$peers_bin/$driver" --host 127.0.0.1 --port "$port" --messages "$messages" \
      --batch "$b" --size 256 --producers 4 --consumers 4 --label "$label"); then
      cpu_end
      echo "{\"round\": $round, \"peer\": $(tr -d '\n' <<< "$out")}" >> "$results"
      rows+=("$round|$label|$(json_str "$out" durability)|$b|$(json_num "$out" msgs_per_s)|$(json_num "$out" p99_ms)|peer|$cpu_cols")
    else
      say "$label, batch $b: the driver failed (exit $?)"
      rows+=("$round|$label|-|$b|-|-|failed")
      failed=1
    fi
  done
}

peer_failed() { # LABEL: the server did not start
  local b
  for b in "${batches[@]}"; do rows+=("$round|$1|server did not start|$b|-|-|failed"); done
  failed=1
}

# --- cairn -------------------------------------------------------------------------------------
# cairn_row SYSTEM BATCH JSON: records a cairn bench result.
cairn_row() {
  local flat p99 msgs durability
  flat=$(tr -d '\n' <<< "$3")
  durability=$(json_str "$flat" durability)
  case "$durability" in
    fsync) durability="fsync: WAL fsynced before accept and ack" ;;
    os) durability="os: RocksDB WAL written, no fsync" ;;
  esac
  msgs=$(json_num "$flat" end_to_end_per_s)
  p99=$(sed -n 's/.*"end_to_end_latency_ms": *{[^}]*"p99": *\([-0-9.eE+]*\).*/\1/p' <<< "$flat")
  echo "{\"round\": $round, \"system\": \"$1\", \"batch\": $2, \"cairn_bench\": $flat}" >> "$results"
  if [ "$(json_num "$flat" handled)" != "$messages" ] || [ "$(json_num "$flat" missing)" != 0 ]; then
    say "$1, batch $2: not every message was handled once"
    rows+=("$round|$1|$durability|$2|-|-|failed")
    failed=1
    return
  fi
  rows+=("$round|$1|$durability|$2|$msgs|$p99|cairn|$cpu_cols")
  case "$1" in
    "cairn (HTTP batches, 4 actors)") cairn_http[$round,$2]=$msgs ;;
    "cairn (HTTP batches, 64 actors)") cairn_http64[$round,$2]=$msgs ;;
  esac
}

for ((round = 1; round <= rounds; round++)); do
  [ "$rounds" -eq 1 ] || say "round $round of $rounds"
  # Redis Streams, AOF on, with fsync before every reply, then once a second.
  for fsync in always everysec; do
    dir=$(mktemp -d "$tmp_root/redis.XXXXXX")
    pick_port port
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes \
      --appendfsync "$fsync" --save "" --daemonize no --logfile "$dir/redis.log" &
    redis_pid=$!
    if wait_for 30 "$redis_pid" "$dir/redis.log" redis_ping "$port"; then
      run_peer cairn_peer_redis "redis (appendfsync $fsync)" "$port"
    else
      peer_failed "redis (appendfsync $fsync)"
    fi
    stop_pid "$redis_pid"
    redis_pid=""
    rm -rf "$dir"
  done

  # PostgreSQL 15; postgres refuses to run as root. fsync and synchronous_commit keep their
  # defaults (on). initdb --no-sync only skips syncing the freshly created, empty cluster.
  dir=$(mktemp -d "$tmp_root/postgresql.XXXXXX")
  chown postgres: "$dir"
  pick_port port
  if (cd "$dir" && runuser -u postgres -- "$pgbin/initdb" -D "$dir/data" -A trust -U postgres \
        --no-locale -E UTF8 --no-sync > "$dir/initdb.log" 2>&1) &&
     pg_data=$dir/data &&
     (cd "$dir" && runuser -u postgres -- "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
        -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start > /dev/null); then
    run_peer cairn_peer_pg "postgresql 15" "$port"
  else
    say "postgresql did not start:"
    tail -n 20 "$dir/initdb.log" "$dir/postgres.log" >&2 2>/dev/null || true
    peer_failed "postgresql 15"
  fi
  stop_postgres fast
  rm -rf "$dir"

  # RabbitMQ 3.10 with a quorum queue, as the rabbitmq user, its own epmd on a free port, and no
  # configuration from /etc (the defaults let guest/guest in from loopback).
  dir=$(mktemp -d "$tmp_root/rabbitmq.XXXXXX")
  chown rabbitmq: "$dir"
  pick_port port
  pick_port dist_port
  pick_port epmd_port
  epmd -address 127.0.0.1 -port "$epmd_port" &
  epmd_pid=$!
  (cd "$dir" && exec setsid setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env \
     HOME="$dir" RABBITMQ_NODENAME="cairn-peers-$$@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
     RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist_port" ERL_EPMD_PORT="$epmd_port" \
     ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
     RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
     RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
     RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbitmq.pid" \
     /usr/lib/rabbitmq/bin/rabbitmq-server) > "$dir/rabbitmq.log" 2>&1 &
  rabbit_pid=$!
  # The AMQP listener opens at the end of the boot, once the default user exists.
  if wait_for 120 "$rabbit_pid" "$dir/rabbitmq.log" port_open "$port"; then
    run_peer cairn_peer_rabbitmq "rabbitmq 3.10 (quorum)" "$port"
  else
    peer_failed "rabbitmq 3.10 (quorum)"
  fi
  stop_rabbitmq
  rm -rf "$dir"

  # NATS 2.9 JetStream, file storage.
  dir=$(mktemp -d "$tmp_root/nats.XXXXXX")
  pick_port port
  nats-server -js -a 127.0.0.1 -p "$port" -sd "$dir" > "$dir/nats.log" 2>&1 &
  nats_pid=$!
  if wait_for 30 "$nats_pid" "$dir/nats.log" port_open "$port"; then
    run_peer cairn_peer_nats "nats 2.9 (JetStream)" "$port"
  else
    peer_failed "nats 2.9 (JetStream)"
  fi
  stop_pid "$nats_pid"
  nats_pid=""
  rm -rf "$dir"


  if [ "$peers_only" != 1 ]; then
    dir=$(mktemp -d "$tmp_root/cairn.XXXXXX")
    "$cairn_bin" node --data "$dir/node" --http 127.0.0.1:0 --durability fsync --no-progress \
      --log-level warn > "$dir/node.log" 2>&1 &
    node_pid=$!
    if wait_for 60 "$node_pid" "$dir/node.log" grep -q "ready: http://127.0.0.1:[0-9]" "$dir/node.log"; then
      url=$(grep -o "http://127.0.0.1:[0-9]*" "$dir/node.log" | head -n 1)
      # 4 actors: one per peer consumer, each taking what has arrived in one step, as a peer
      # consumer acks what has arrived at once; 64: the same messages spread thinner.
      for actors in 4 64; do
        for b in "${batches[@]}"; do
          label="cairn (HTTP batches, $actors actors)"
          say "$label, batch $b"
          cpu_begin
          if out=$("$cairn_bin" bench --node "$url" --messages "$messages" --batch "$b" \
            --producers 4 --actors "$actors" --durability fsync --quiet --json); then
            cpu_end
            cairn_row "$label" "$b" "$out"
          else
            say "cairn bench over HTTP, $actors actors, batch $b, failed (exit $?)"
            rows+=("$round|$label|-|$b|-|-|failed")
            failed=1
          fi
        done
      done
    else
      for actors in 4 64; do
        for b in "${batches[@]}"; do
          rows+=("$round|cairn (HTTP batches, $actors actors)|node did not start|$b|-|-|failed")
        done
      done
      failed=1
    fi
    stop_pid "$node_pid" 60
    node_pid=""
    for b in "${batches[@]}"; do
      say "cairn (embedded), batch $b"
      cpu_begin
      if out=$("$cairn_bin" bench --embedded --data "$dir/embedded-$b" --durability fsync \
        --messages "$messages" --batch "$b" --producers 4 --quiet --json); then
        cpu_end
        cairn_row "cairn (embedded)" "$b" "$out"
      else
        say "cairn bench embedded, batch $b, failed (exit $?)"
        rows+=("$round|cairn (embedded)|-|$b|-|-|failed")
        failed=1
      fi
    done
    rm -rf "$dir"
  fi
done

# --- table -------------------------------------------------------------------------------------
echo
echo "$messages messages of 256 B, 4 producers; peers with 4 consumers; cairn over HTTP with 4"
echo "actors (one per peer consumer) and with 64; embedded cairn with the bench's 64 actors."
echo "msgs/s: acked (peers) or handled (cairn) messages over first send to last ack."
echo "p99: send to durable ack (peers), send to handled (cairn)."
echo "CPU: the whole machine's (server, client, kernel) per message, over the run; cores: busy"
echo "cores of $(nproc) over the run (the rest idle or waiting for the disk)."
echo "cairn HTTP / this: cairn over HTTP with 4 actors (with 64) over the peer's msgs/s."
format="%-32s %-57s %5s %9s %9s %11s %6s %18s\n"
ratio_of() { # CAIRN PEER
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
for ((r = 1; r <= rounds; r++)); do
  [ "$rounds" -eq 1 ] || printf "\nround %d of %d\n" "$r" "$rounds"
  printf "$format" system durability batch msgs/s "p99 ms" "CPU us/msg" cores "cairn HTTP / this"
  for row in "${rows[@]}"; do
    IFS='|' read -r round system durability batch msgs p99 kind cpu cores <<< "$row"
    [ "$round" = "$r" ] || continue
    ratio=-
    if [ "$kind" = peer ]; then
      ratio="$(ratio_of "${cairn_http[$r,$batch]:-}" "$msgs") ($(ratio_of "${cairn_http64[$r,$batch]:-}" "$msgs"))"
    fi
    [ "$kind" != failed ] || msgs=FAILED
    printf "$format" "$system" "$durability" "$batch" "$msgs" "$p99" "${cpu:--}" "${cores:--}" "$ratio"
  done
done
if [ "$rounds" -gt 1 ]; then
  # Per peer and batch: the median of the peer's msgs/s, of cairn's (4 actors), and of the
  # ratios each round measured (with their range); a failed round counts in none of them.
  echo
  echo "over $rounds rounds, medians (each ratio measured within its round; range in brackets):"
  summary="%-32s %5s %10s %13s %22s\n"
  printf "$summary" system batch "peer msgs/s" "cairn msgs/s" "cairn HTTP / this"
  median() { tr ' ' '\n' | awk 'NF { v[n++] = $1 } END {
    if (n == 0) { print "-"; exit }
    for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    m = n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
    printf "%s|%s|%s", m, v[0], v[n - 1] }'; }
  declare -A seen=()
  for row in "${rows[@]}"; do
    IFS='|' read -r round system durability batch msgs p99 kind cpu cores <<< "$row"
    [ "$kind" = peer ] && [ -z "${seen[$system,$batch]:-}" ] || continue
    seen[$system,$batch]=1
    peer_v="" cairn_v="" ratio_v=""
    for other in "${rows[@]}"; do
      IFS='|' read -r o_round o_system _ o_batch o_msgs _ o_kind _ _ <<< "$other"
      [ "$o_system" = "$system" ] && [ "$o_batch" = "$batch" ] && [ "$o_kind" = peer ] || continue
      c=${cairn_http[$o_round,$batch]:-}
      peer_v+=" $o_msgs"
      [ -z "$c" ] || { cairn_v+=" $c"; ratio_v+=" $(ratio_of "$c" "$o_msgs")"; }
    done
    IFS='|' read -r peer_m _ _ <<< "$(median <<< "$peer_v")"
    IFS='|' read -r cairn_m _ _ <<< "$(median <<< "$cairn_v")"
    IFS='|' read -r ratio_m ratio_lo ratio_hi <<< "$(median <<< "$ratio_v")"
    range=""
    [ "$ratio_m" = - ] || range=$(printf "%.2f (%s-%s)" "$ratio_m" "$ratio_lo" "$ratio_hi")
    printf "$summary" "$system" "$batch" "${peer_m%.*}" "${cairn_m%.*}" "${range:--}"
  done
fi
echo
echo "raw results: $results"
exit "$failed"
