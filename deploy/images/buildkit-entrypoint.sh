#!/bin/bash
# Starts one build engine of docker-compose.yml: its own network namespace (only the registry's port reachable, on
# the registry's address), buildkitd inside it (RUN steps share that namespace, never the host's), its socket in a
# volume the build worker beside it mounts. On SIGTERM buildkitd stops and the namespace, link and rules go.
set -euo pipefail
: "${KILN_BUILD_NS:?the name of this engine network namespace}" "${KILN_BUILD_VETH:?host side link name (at most 14 characters)}"
: "${KILN_BUILD_HOST_ADDR:?host side address of the /30}" "${KILN_BUILD_NS_ADDR:?namespace side address of the /30}"
: "${KILN_REGISTRY:?the registry builds push to, address:port}"
socket=${KILN_BUILDKIT_SOCKET:-/run/buildkit/buildkitd.sock}
reg_addr=${KILN_REGISTRY%:*} reg_port=${KILN_REGISTRY##*:}

# The registry listens on an address of its own, on the host's loopback link, which every engine's namespace reaches
# through its veth (and nothing else there: the chain of build-network.sh).
ip -o addr show dev lo | grep -q " inet $reg_addr/" || ip addr add "$reg_addr/32" dev lo 2>/dev/null || true
build-network.sh down "$KILN_BUILD_NS" "$KILN_BUILD_VETH" # what a killed container left
build-network.sh up "$KILN_BUILD_NS" "$KILN_BUILD_VETH" "$KILN_BUILD_HOST_ADDR" "$KILN_BUILD_NS_ADDR" "$reg_addr" "$reg_port,${KILN_BUILD_HOST_PORTS:-}"

mkdir -p "$(dirname "$socket")"
buildkitd-config.sh /var/lib/buildkit "$socket" "$KILN_REGISTRY" "${KILN_BUILD_HTTP_REGISTRIES:-}" "${KILN_BUILDKIT_CACHE_MB:-10240}" "${KILN_BUILDKIT_GID:-1000}" >/etc/buildkitd.toml
rm -f "$socket"
# nsenter, not `ip netns exec`, which remounts /sys and hides the cgroup mount from runc.
nsenter "--net=/run/netns/$KILN_BUILD_NS" buildkitd --config /etc/buildkitd.toml --oci-worker-net=host &
pid=$!
stop() { kill -TERM "$pid" 2>/dev/null || true; }
trap stop TERM INT
status=0
wait "$pid" || status=$?
wait "$pid" 2>/dev/null || true
build-network.sh down "$KILN_BUILD_NS" "$KILN_BUILD_VETH"
exit "$status"
