#!/usr/bin/env bash
# Prints buildkitd.toml for a Kiln build engine (scripts/kiln and the builder image of docker-compose.yml share it).
#   buildkitd-config.sh ROOT SOCKET REGISTRY HTTP_REGISTRIES CACHE_MB [SOCKET_GID]
# Images named on Docker Hub (FROM kiln/busybox:local) come from Kiln's registry (REGISTRY): nothing is pulled from
# the internet. HTTP_REGISTRIES (comma-separated host:port) are spoken to over plain HTTP, besides REGISTRY.
set -euo pipefail
root=$1 socket=$2 registry=$3 http_registries=$4 cache_mb=$5 gid=${6:-}
cat <<TOML
root = "$root"
[grpc]
  address = ["unix://$socket"]
$([ -n "$gid" ] && printf '  gid = %s\n' "$gid")
[worker.oci]
  enabled = true
  gc = true
  gckeepstorage = "${cache_mb}MB"
[worker.containerd]
  enabled = false
[registry."docker.io"]
  mirrors = ["$registry"]
[registry."$registry"]
  http = true
TOML
for r in ${http_registries//,/ }; do printf '[registry."%s"]\n  http = true\n' "$r"; done
