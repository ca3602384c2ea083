# The smith image: the `smith` CLI (builder, rollout runner, compliance jobs) and busybox httpd
# (the mirror), run by the platform stack (stacks/platform, docs/platform.md) as user 10001 with a
# read-only root filesystem. Build from the repository root: docker build -t smith:0.1.0 .
# Not built in CI here: see docs/platform.md ("The image").

# --- toolchain: the Pulumi CLI and plugins, built from pinned Go modules like everywhere else ---
FROM node:20-bookworm AS toolchain
COPY --from=golang:1.25-bookworm /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH
WORKDIR /opt/smith
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN bash scripts/install-pulumi.sh && bash scripts/install-kubernetes.sh

# --- runtime ---------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
# aptly + gnupg: smith build/sync/verify; openssh-client: nothing (smith speaks SSH itself) but
# debugging; busybox: the mirror's httpd; ca-certificates: HTTPS backends and webhooks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends aptly gnupg busybox ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 smith && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home smith
WORKDIR /opt/smith
COPY --from=toolchain /opt/smith /opt/smith
# Plugins live in the image; PULUMI_HOME itself must be writable, so .smith/pulumi-home points into
# /tmp (an emptyDir in the pods) and the entrypoint links the plugins there.
RUN mv /opt/smith/.smith/pulumi-home /opt/smith-pulumi-home \
 && ln -s /tmp/pulumi-home /opt/smith/.smith/pulumi-home \
 && rm -rf /opt/smith/.smith/build /opt/smith/.smith/state \
 && ln -s /opt/smith/scripts/container-entrypoint.sh /usr/local/bin/smith
USER 10001:10001
ENV HOME=/tmp NODE_ENV=production
ENTRYPOINT ["/opt/smith/scripts/container-entrypoint.sh"]
CMD ["--help"]
