# The temporal CLI (its dev server) as scripts/kiln builds it from Go modules. Production: a Temporal cluster, or
# temporalio/temporal:1.5.1 (the same CLI, entrypoint `temporal`).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
RUN groupadd --gid 1000 temporal && useradd --uid 1000 --gid temporal temporal && mkdir /data && chown temporal:temporal /data
COPY temporal /usr/local/bin/temporal
USER temporal
ENTRYPOINT ["temporal"]
