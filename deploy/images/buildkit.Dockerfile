# A build engine: buildkitd and buildctl as scripts/kiln builds them from Go modules, runc, and the network isolation
# of scripts/lib/build-network.sh (builds are untrusted code). Runs privileged on the host's network, where it makes
# its own namespace and runs buildkitd inside it. Production uses this image too (its entrypoint is a bash script, so
# moby/buildkit's Alpine image would not do).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends runc iproute2 iptables ca-certificates && rm -rf /var/lib/apt/lists/*
COPY buildkitd buildctl /usr/bin/
COPY build-network.sh buildkitd-config.sh buildkit-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/buildkit
ENTRYPOINT ["buildkit-entrypoint.sh"]
