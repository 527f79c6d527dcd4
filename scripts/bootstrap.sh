#!/usr/bin/env bash
# Installs what Switchboard needs and is missing: libzmq's and ICU's headers (through apt,
# only when pkg-config cannot find them) and, for the tests, Python's pyzmq and pytest,
# and the servers they run against (Prometheus, Chromium, nginx, PostgreSQL). Safe to run again: it installs nothing that is already there.
set -euo pipefail

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bootstrap: need root to run: $*  (run as root or install sudo)" >&2; exit 1
  fi
}

if ! command -v pkg-config >/dev/null || ! pkg-config --exists libzmq || ! pkg-config --exists icu-i18n; then
  echo "bootstrap: installing libzmq3-dev, libicu-dev and pkg-config through apt"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libzmq3-dev libicu-dev pkg-config >/dev/null
fi

if [ "${1:-}" = "test" ]; then
  if ! python3 -c 'import zmq, pytest, jsonschema, yaml' 2>/dev/null; then
    echo "bootstrap: installing pyzmq, pytest, jsonschema and pyyaml through pip"
    python3 -m pip install --quiet --disable-pip-version-check pyzmq pytest jsonschema pyyaml
  fi
  # The operations tests run the real things: Prometheus and promtool on the shipped
  # rules and a live scrape, headless Chromium on the status page, sqlite3 on the files.
  # nginx and openssl: the gateway's webhook over TLS, through the shipped nginx block.
  if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null || ! command -v chromium >/dev/null \
     || ! command -v sqlite3 >/dev/null || ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
    echo "bootstrap: installing prometheus, chromium, sqlite3, nginx and openssl through apt (for the operations and gateway tests)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus chromium sqlite3 nginx openssl >/dev/null
  fi
  # The PostgreSQL store's tests start a private server of their own (scripts/postgres.sh).
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v psql >/dev/null; then
    echo "bootstrap: installing postgresql through apt (for the PostgreSQL store's tests)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-client >/dev/null
  fi
fi

if [ "${1:-}" = "bench" ]; then
  # The same-run comparison: Debian's RabbitMQ and the C client its load generator uses.
  if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ ! -f /usr/include/amqp.h ] || ! command -v cc >/dev/null; then
    echo "bootstrap: installing rabbitmq-server, librabbitmq-dev and gcc through apt (for the benchmark's RabbitMQ comparison)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server librabbitmq-dev gcc libc6-dev >/dev/null
  fi
  # The broker on PostgreSQL and the failover modes.
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ! command -v psql >/dev/null; then
    echo "bootstrap: installing postgresql through apt (for the benchmark's PostgreSQL and failover modes)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
fi

if ! command -v swift >/dev/null; then
  echo "bootstrap: no 'swift' on PATH; install Swift 6.1 or newer from swift.org" >&2
  exit 1
fi
