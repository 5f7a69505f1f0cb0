# nats-server as scripts/kiln builds it from Go modules, on Kiln's Debian base (wget for the health check).
# Production: nats:2.15.2-alpine (same command line).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends wget && rm -rf /var/lib/apt/lists/* && mkdir /data
COPY nats-server /usr/local/bin/nats-server
EXPOSE 4222
CMD ["nats-server"]
