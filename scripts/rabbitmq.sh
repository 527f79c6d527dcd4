#!/usr/bin/env bash
# Starts or stops a private RabbitMQ (Debian's rabbitmq-server) on loopback for
# switchboard-bench's same-run comparison: its own node name, ports and data directory,
# so it never touches a RabbitMQ the machine already runs.
#   scripts/rabbitmq.sh start DIR PORT   starts it and waits until it takes connections
#   scripts/rabbitmq.sh stop DIR         stops it
set -euo pipefail
command=${1:?start or stop}
dir=${2:?a data directory}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export HOME="$dir" RABBITMQ_HOME="$dir" RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_NODENAME="switchboard-bench@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
export RABBITMQ_CONFIG_FILE="$dir/rabbitmq"
bin=/usr/lib/rabbitmq/bin
case "$command" in
  start)
    port=${3:?a port}
    export RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT=$((port + 20000))
    echo "[]." > "$dir/enabled_plugins"
    # The broker's durable promise: a confirm only once the message is fsynced.
    printf 'loopback_users = none\n' > "$dir/rabbitmq.conf"
    "$bin/rabbitmq-server" > "$dir/server.log" 2>&1 &
    if ! "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" wait --timeout 120 "$RABBITMQ_PID_FILE" > /dev/null 2>&1; then
      echo "rabbitmq.sh: RabbitMQ did not start; see $dir/server.log" >&2
      tail -20 "$dir/server.log" >&2
      exit 1
    fi
    ;;
  stop)
    "$bin/rabbitmqctl" -n "$RABBITMQ_NODENAME" stop > /dev/null 2>&1 || true
    ;;
  *) echo "rabbitmq.sh: start or stop" >&2; exit 2 ;;
esac
