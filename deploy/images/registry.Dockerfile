# Debian's docker-registry (Docker Distribution), configured like registry:2 through REGISTRY_* variables and started
# the same way (the command is the configuration file). Production: registry:2.
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends docker-registry wget && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/registry && printf '#!/bin/sh\nexec docker-registry serve "$@"\n' > /entrypoint.sh && chmod +x /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["/etc/docker/registry/config.yml"]
