# The smith image: the `smith` CLI (builder, rollout runner, compliance jobs) and busybox httpd
# (the mirror), run by the platform stack (stacks/platform, docs/platform.md) as user 10001 with a
# read-only root filesystem and /tmp an emptyDir.
#
# The build context is NOT the checkout: scripts/build-image.sh stages it (app/ = the tracked
# files + production node_modules + the Pulumi CLI and nodejs language host; pulumi-home/ = the
# command provider plugin), all built on the build host from pinned Go modules and npm, so no
# compiler runs in here and the image carries exactly the toolchain the tests ran.
#   offline (CI, here): bash scripts/build-image.sh   (buildah, BASE = a local Debian bookworm + Node 20)
#   with a registry:    bash scripts/build-image.sh --context-only ctx && docker build -f Dockerfile -t smith:0.1.0 ctx
ARG BASE=node:20-bookworm-slim
FROM ${BASE}
# aptly + gnupg: smith build/sync/verify; busybox: the mirror's httpd; ca-certificates: HTTPS
# backends, mirrors and webhooks. (smith speaks SSH itself: no openssh-client.)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends aptly gnupg busybox ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN groupadd --gid 10001 smith \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin smith
COPY app /opt/smith
COPY pulumi-home /opt/smith-pulumi-home
WORKDIR /opt/smith
# Owned by root, read-only for smith (modes set when staged). PULUMI_HOME must be writable, so
# .smith/pulumi-home points into /tmp, where the entrypoint links the image's plugins.
# `smith --help` fills bin/smith.js's transpile cache (.smith/cache/ts) with the CLI's modules:
# the pods could not write it.
RUN ln -s /tmp/pulumi-home /opt/smith/.smith/pulumi-home \
 && ln -s /opt/smith/scripts/container-entrypoint.sh /usr/local/bin/smith \
 && node bin/smith.js --help >/dev/null && chmod -R a+rX,go-w /opt/smith/.smith/cache
USER 10001:10001
ENV HOME=/tmp NODE_ENV=production
ENTRYPOINT ["/opt/smith/scripts/container-entrypoint.sh"]
CMD ["--help"]
