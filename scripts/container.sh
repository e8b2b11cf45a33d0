#!/bin/sh
# The container image's steps, in one place: the Dockerfile runs `install` at build time, `start` as its entry point
# and `health` as its HEALTHCHECK; test/ops/container.test.ts runs the same three in a clean folder, because no
# container daemon runs on the development machines.
#
#   container.sh install TARBALL APP_DIR   production-only install of the packed server (npm pack) into APP_DIR
#   container.sh start APP_DIR             exec node dist/server.js there: node is the process the runtime signals
#   container.sh health                    exit 0 when http://127.0.0.1:$PORT/healthz answers 200
set -eu

command=${1:-}
case "$command" in
  install)
    tarball=$2
    app=$3
    mkdir -p "$app"
    cd "$app"
    printf '{ "name": "secure-mode-image", "private": true }\n' > package.json
    # Only the registry: better-sqlite3 builds from source instead of fetching a prebuilt binary from elsewhere
    # (the tests set npm_config_build_from_source=false and hand it a prebuild compiled on the same machine).
    npm_config_build_from_source="${npm_config_build_from_source:-true}" npm install --omit=dev --no-audit --no-fund --no-update-notifier "$tarball"
    ;;
  start)
    cd "$2/node_modules/secure-mode"
    exec node dist/server.js
    ;;
  health)
    exec node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"
    ;;
  *)
    echo "usage: container.sh install TARBALL APP_DIR | start APP_DIR | health" >&2
    exit 2
    ;;
esac
