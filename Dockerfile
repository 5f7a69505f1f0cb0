# One image for all five Kiln apps; docker-compose.yml picks the app with `command`.
FROM node:20-bookworm-slim AS build
WORKDIR /kiln
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json tsconfig.build.json nx.json ./
COPY libs libs
COPY apps apps
COPY tools tools
RUN npx tsc -p tsconfig.build.json && npx vite build --config apps/console/vite.config.mts && npm prune --omit=dev

FROM node:20-bookworm-slim
# git clones sources in build-orchestrator; ca-certificates for https git hosts.
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /kiln
COPY --from=build /kiln/node_modules node_modules
COPY --from=build /kiln/dist dist
COPY --from=build /kiln/tools tools
COPY --from=build /kiln/tsconfig.base.json tsconfig.base.json
COPY --from=build /kiln/package.json package.json
ENV NODE_ENV=production
ENTRYPOINT ["node", "-r", "/kiln/tools/register-dist-paths.js"]
