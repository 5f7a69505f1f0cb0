# An image per Kiln app, each a target of this file (`docker build --target gateway -t kiln/gateway .`), non-root
# (uid 1000). They hold the same node_modules and dist; build-orchestrator's runtime adds git, ssh and buildctl, which
# only it runs.
#   scripts/compose images   builds them on base images made here (Debian's debootstrap, no pulls):
#                            NODE_IMAGE=kiln/node:20.20.2 BUILDKIT_IMAGE=kiln/buildkit:v0.26.2
#   production               the defaults, official images
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BUILDKIT_IMAGE=kiln/buildkit:v0.26.2
FROM ${BUILDKIT_IMAGE} AS buildkit

# The production dependencies, in a stage of their own: rebuilt only when package.json or the lock file changes, so a
# change of Kiln's code rebuilds dist and nothing else (pruning the build stage's node_modules of its dev dependencies
# and copying the result into the images each time made the five images after a code change take 55 s and 67 CPU-s;
# now 44 s and 58 CPU-s, measured 2026-12-03 on two cores). No install scripts: package.json's
# allowScripts approves none (prebuilt binaries only). EXTRA_CA_CERTS: PEM certificates of a TLS-inspecting proxy
# between the build and the npm registry (public certificates, build stages only).
FROM ${NODE_IMAGE} AS deps
WORKDIR /kiln
COPY package.json package-lock.json ./
ARG EXTRA_CA_CERTS=
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --omit=dev --no-audit --no-fund --ignore-scripts && rm -f /tmp/extra-ca.pem && rm -rf node_modules/.cache \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$(uname -m)-unknown-linux-gnu" -exec rm -rf {} +
# (Temporal's native bridge ships prebuilt for five platforms; the image keeps its own, 118 of 148 MB less.)

# The compilers (tsc, webpack for the workflow code, vite) need the dev dependencies too.
FROM ${NODE_IMAGE} AS build
WORKDIR /kiln
COPY package.json package-lock.json ./
ARG EXTRA_CA_CERTS=
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem; export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
 && npm ci --no-audit --no-fund --ignore-scripts && rm -f /tmp/extra-ca.pem
COPY tsconfig.base.json tsconfig.json tsconfig.build.json nx.json ./
COPY libs libs
COPY apps apps
COPY tools tools
RUN npx tsc -p tsconfig.build.json && node -r ./tools/register-dist-paths.js dist/apps/build-orchestrator/src/workflow-bundle.js >/dev/null \
 && npx vite build --config apps/console/vite.config.mts --logLevel warn

# What every app's image runs on; the app's files come last, in its own stage, so that a change of Kiln's code
# rebuilds those layers only.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /kiln
ENV NODE_ENV=production
ENTRYPOINT ["node", "-r", "/kiln/tools/register-dist-paths.js"]

# build-orchestrator's system packages, before Kiln's code: git and ssh clone sources, ca-certificates for https git
# hosts, and buildctl drives the BuildKit engine beside it. (Installed after the code's layers, they were installed
# again at every change of the code: 14 s and about 10 CPU-s of each image build, measured 2026-12-03.)
FROM runtime AS orchestrator-runtime
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/kiln && chown node:node /var/lib/kiln
COPY --from=buildkit /usr/bin/buildctl /usr/local/bin/buildctl
ENV KILN_BUILDCTL=/usr/local/bin/buildctl

FROM runtime AS app
COPY --from=deps /kiln/node_modules node_modules
COPY --from=build /kiln/dist dist
COPY --from=build /kiln/tools tools
COPY --from=build /kiln/tsconfig.base.json /kiln/package.json ./
USER node

FROM app AS gateway
CMD ["dist/apps/gateway/src/main.js"]

FROM app AS webhook-ingest
CMD ["dist/apps/webhook-ingest/src/main.js"]

FROM app AS rules-service
CMD ["dist/apps/rules-service/src/main.js"]

FROM app AS log-service
CMD ["dist/apps/log-service/src/main.js"]

# The same files as every app's image (the layers are the same blobs), on the runtime with git and buildctl.
FROM orchestrator-runtime AS build-orchestrator
COPY --from=deps /kiln/node_modules node_modules
COPY --from=build /kiln/dist dist
COPY --from=build /kiln/tools tools
COPY --from=build /kiln/tsconfig.base.json /kiln/package.json ./
USER node
CMD ["dist/apps/build-orchestrator/src/main.js"]
