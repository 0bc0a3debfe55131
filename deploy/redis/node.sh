#!/bin/sh
# A Redis data node under Sentinel (deploy/compose, deploy/k8s). The primary is whoever the Sentinels name now:
# a node that starts (first boot, a restart after a crash, the old primary back after a failover) follows it,
# so a killed primary never comes back as a second primary. Only when no Sentinel answers (the deployment's very
# first start) does REDIS_INITIAL_PRIMARY start as the primary, and the other nodes follow it.
#
# Environment: REDIS_NODE_HOST (this node's stable name, announced to the Sentinels), REDIS_INITIAL_PRIMARY and
# REDIS_INITIAL_PRIMARY_PORT (default REDIS_PORT), REDIS_SENTINEL_HOSTS (space-separated host:port),
# REDIS_MASTER_NAME (default rabota), REDIS_PORT (default 6379), REDIS_SENTINEL_PASSWORD (to ask the Sentinels;
# may be empty), REDIS_START_WAIT_S (default 30: how long a restarting primary waits for a failover's outcome).
# Arguments: passed on to redis-server.
set -eu
port="${REDIS_PORT:-6379}"
name="${REDIS_MASTER_NAME:-rabota}"
# The primary the Sentinels name, as "host port flags" (empty: no Sentinel answered).
ask() {
  for sentinel in ${REDIS_SENTINEL_HOSTS:-}; do
    answer=$(REDISCLI_AUTH="${REDIS_SENTINEL_PASSWORD:-}" timeout 3 redis-cli --no-auth-warning --raw \
             -h "${sentinel%:*}" -p "${sentinel##*:}" SENTINEL master "$name" 2>/dev/null \
             | awk 'NR % 2 == 1 {k = $0; next} k == "ip" {h = $0} k == "port" {p = $0} k == "flags" {f = $0}
                    END {if (p ~ /^[0-9]+$/) print h, p, f}') || answer=""
    if [ -n "$answer" ]; then
      echo "$answer"
      return
    fi
  done
}
# A node named as the primary while the Sentinels see it down (it is restarting after a crash) may be in the
# middle of a failover: wait for the outcome rather than come back as a second primary.
primary_host=""
primary_port=""
waited=0
while :; do
  answer=$(ask)
  primary_host=$(echo "$answer" | awk '{print $1}')
  primary_port=$(echo "$answer" | awk '{print $2}')
  flags=$(echo "$answer" | awk '{print $3}')
  case "$primary_host:$primary_port:$flags" in
    "$REDIS_NODE_HOST:$port:"*down*|"$REDIS_NODE_HOST:$port:"*failover*) ;;
    *) break ;;
  esac
  if [ "$waited" -ge "${REDIS_START_WAIT_S:-30}" ]; then
    break
  fi
  echo "node.sh: the Sentinels see $REDIS_NODE_HOST:$port down ($flags); waiting for the failover"
  sleep 1
  waited=$((waited + 1))
done
if [ -z "$primary_host" ]; then  # no Sentinel knows a primary yet: the deployment's first start
  primary_host="$REDIS_INITIAL_PRIMARY"
  primary_port="${REDIS_INITIAL_PRIMARY_PORT:-$port}"
fi
if [ "$primary_host" = "$REDIS_NODE_HOST" ] && [ "$primary_port" = "$port" ]; then
  echo "node.sh: $REDIS_NODE_HOST:$port starts as the primary of $name"
  exec redis-server "$@" --port "$port" --replica-announce-ip "$REDIS_NODE_HOST"
fi
echo "node.sh: $REDIS_NODE_HOST:$port starts as a replica of $primary_host:$primary_port"
exec redis-server "$@" --port "$port" --replica-announce-ip "$REDIS_NODE_HOST" --replicaof "$primary_host" "$primary_port"
