#!/bin/sh
# A Redis Sentinel (deploy/compose, deploy/k8s). Sentinel rewrites its config file as it learns (the current
# primary, the replicas, the other Sentinels), so the file lives in its data directory and survives restarts.
# A Sentinel without one (first start, or a lost volume) asks the other Sentinels for the current primary
# before it falls back to REDIS_INITIAL_PRIMARY. The credentials are written afresh at every start (a rotated
# password takes effect with a restart).
#
# Environment: SENTINEL_HOST (this Sentinel's stable name), REDIS_INITIAL_PRIMARY and REDIS_INITIAL_PRIMARY_PORT
# (default 6379), REDIS_SENTINEL_HOSTS (space-separated host:port of all Sentinels), REDIS_MASTER_NAME (default
# rabota),
# SENTINEL_PORT (default 26379), SENTINEL_DIR (default /data), SENTINEL_QUORUM (default 2),
# SENTINEL_DOWN_AFTER_MS (default 5000), SENTINEL_FAILOVER_TIMEOUT_MS (default 60000),
# REDIS_SENTINEL_PASSWORD (the Sentinels' own: clients and the other Sentinels log in with it; may be empty),
# SENTINEL_AUTH_USER and SENTINEL_AUTH_PASSWORD (how the Sentinels log in to the data nodes; the user may be empty:
# the default user), SENTINEL_CLIENT_USER and SENTINEL_CLIENT_PASSWORD (optional: an ACL user that may only ask
# who the primary is, for the services). Arguments: passed on to redis-server --sentinel.
set -eu
name="${REDIS_MASTER_NAME:-rabota}"
dir="${SENTINEL_DIR:-/data}"
conf="$dir/sentinel.conf"
sport="${SENTINEL_PORT:-26379}"
if [ ! -s "$conf" ]; then
  primary="${REDIS_INITIAL_PRIMARY} ${REDIS_INITIAL_PRIMARY_PORT:-6379}"
  for peer in ${REDIS_SENTINEL_HOSTS:-}; do
    [ "$peer" = "${SENTINEL_HOST}:${sport}" ] && continue
    answer=$(REDISCLI_AUTH="${REDIS_SENTINEL_PASSWORD:-}" timeout 3 redis-cli --no-auth-warning --raw \
             -h "${peer%:*}" -p "${peer##*:}" SENTINEL get-master-addr-by-name "$name" 2>/dev/null \
             | tr '\n' ' ') || answer=""
    case "$(echo "$answer" | awk '{print $2}')" in
      ''|*[!0-9]*) continue ;;
    esac
    primary=$(echo "$answer" | awk '{print $1" "$2}')
    break
  done
  cat > "$conf" <<CONF
port $sport
dir $dir
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $SENTINEL_HOST
sentinel announce-port $sport
sentinel monitor $name $primary ${SENTINEL_QUORUM:-2}
sentinel down-after-milliseconds $name ${SENTINEL_DOWN_AFTER_MS:-5000}
sentinel failover-timeout $name ${SENTINEL_FAILOVER_TIMEOUT_MS:-60000}
sentinel parallel-syncs $name 1
CONF
fi
# Credentials: dropped and written again (Sentinel keeps them in the file it rewrites).
sed -i -e '/^requirepass /d' -e '/^user default /d' -e '/^sentinel sentinel-pass /d' -e '/^sentinel auth-pass /d' \
  -e '/^sentinel auth-user /d' "$conf"
if [ -n "${REDIS_SENTINEL_PASSWORD:-}" ]; then
  printf 'requirepass %s\nsentinel sentinel-pass %s\n' "$REDIS_SENTINEL_PASSWORD" "$REDIS_SENTINEL_PASSWORD" >> "$conf"
fi
if [ -n "${SENTINEL_AUTH_PASSWORD:-}" ]; then
  printf 'sentinel auth-pass %s %s\n' "$name" "$SENTINEL_AUTH_PASSWORD" >> "$conf"
fi
if [ -n "${SENTINEL_AUTH_USER:-}" ]; then
  printf 'sentinel auth-user %s %s\n' "$name" "$SENTINEL_AUTH_USER" >> "$conf"
fi
if [ -n "${SENTINEL_CLIENT_USER:-}" ]; then
  sed -i -e "/^user ${SENTINEL_CLIENT_USER} /d" "$conf"
  printf 'user %s on >%s -@all +auth +hello +ping +client|setname +sentinel|masters +sentinel|master +sentinel|get-master-addr-by-name +sentinel|sentinels +sentinel|replicas +sentinel|slaves\n' \
    "$SENTINEL_CLIENT_USER" "$SENTINEL_CLIENT_PASSWORD" >> "$conf"
fi
exec redis-server "$conf" --sentinel "$@"
