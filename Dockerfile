# syntax=docker/dockerfile:1
# secure-mode: build, pack, install production-only from the tarball, run as a non-root user.
# The install, start and health steps live in scripts/container.sh, which test/ops/container.test.ts runs too.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY packages/sign/package.json packages/sign/tsconfig.json packages/sign/
# Compiling needs TypeScript and esbuild only; nothing native is built here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts scripts
COPY src src
COPY packages/sign/src packages/sign/src
COPY packages/sign/README.md packages/sign/
RUN npm run build && npm pack --ignore-scripts --pack-destination /tmp && mv /tmp/secure-mode-[0-9]*.tgz /tmp/secure-mode.tgz

FROM node:24-bookworm-slim AS install
# better-sqlite3 builds from source against this Node.js; the toolchain stays in this stage.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY scripts/container.sh /usr/local/bin/secure-mode-container
COPY --from=build /tmp/secure-mode.tgz /tmp/secure-mode.tgz
RUN secure-mode-container install /tmp/secure-mode.tgz /opt/secure-mode

FROM node:24-bookworm-slim
COPY scripts/container.sh /usr/local/bin/secure-mode-container
COPY --from=install /opt/secure-mode /opt/secure-mode
RUN mkdir /data && chown node:node /data
USER node
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    SECURE_MODE_DATABASE_URL=sqlite:/data/secure-mode.db \
    PATH=/opt/secure-mode/node_modules/.bin:$PATH
# The embedded default keeps its database and master.key here: mount a volume, and back up master.key.
VOLUME /data
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["secure-mode-container", "health"]
# `start` execs `node dist/server.js`, so node is PID 1 and receives the runtime's SIGTERM itself.
ENTRYPOINT ["secure-mode-container", "start", "/opt/secure-mode"]
