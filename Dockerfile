# keystore-maint: the worker image (and, with `sim ...` as the command, the KMS simulator).
#
#   docker build -t keystore-maint .
#   docker run --rm -e TEMPORAL_ADDRESS=temporal:7233 -e AWS_REGION=us-east-1 keystore-maint
#
# Stages: `build` compiles TypeScript and bundles the workflow code once (so no worker ever runs
# webpack at start-up); `runtime` has production dependencies only and runs as the unprivileged
# `node` user. Settings are environment variables: see docs/operations.md and .env.example.
# Secrets are never built in or passed as variables: mount them as files at run time (e.g. at
# /run/secrets/<name>, readable by `node`) and name them with *_FILE variables
# (KEYSTORE_MAINT_AUDIT_POSTGRES_URL_FILE, KEYSTORE_MAINT_WEBHOOK_SECRET_FILE), AWS credentials
# with AWS_SHARED_CREDENTIALS_FILE, or better a role. See secrets/README.md.

# Pinned to an exact release for reproducible builds; pin the digest too (@sha256:...) where the
# registry is mirrored, and bump both deliberately.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first: the dependency layer is reused until they change.
COPY package.json package-lock.json ./
# Install scripts are not needed (native parts of @temporalio/core-bridge, esbuild and swc come
# prebuilt through optional dependencies) and are not trusted: see "allowScripts" in package.json.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY scripts ./scripts
# tsc to dist/, then bundleWorkflowCode to dist/workflow-bundle.js and, for workers with tracing
# on, dist/workflow-bundle.traced.js (package.json "build").
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    KEYSTORE_MAINT_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js \
    KEYSTORE_MAINT_AUDIT_FILE=/var/lib/keystore-maint/audit/keystore-maint.jsonl
WORKDIR /app
COPY package.json package-lock.json ./
# Writable state lives outside /app (which stays root-owned, so the process cannot change its own
# code); a named volume mounted on these directories takes over their ownership on first use.
# The Temporal core bridge ships native builds for every platform; only Linux ones can run here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && rm -rf node_modules/@temporalio/core-bridge/releases/*-apple-darwin \
              node_modules/@temporalio/core-bridge/releases/*-windows-* \
    && mkdir -p /var/lib/keystore-maint/audit /var/lib/keystore-maint/sim \
    && chown -R node:node /var/lib/keystore-maint
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY scripts/healthcheck.js ./scripts/healthcheck.js

USER node
# SIGTERM stops the worker gracefully: it stops polling and lets in-flight tasks finish within
# its 10 s shutdown grace time, so give `docker stop` longer than that (compose: 30 s).
STOPSIGNAL SIGTERM
# Is the process alive, and is Temporal (or, for `sim`, the simulator's port) reachable?
# See scripts/healthcheck.js for what this deliberately does not check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "/app/scripts/healthcheck.js"]
ENTRYPOINT ["node", "/app/bin/keystore-maint.js"]
CMD ["worker"]
