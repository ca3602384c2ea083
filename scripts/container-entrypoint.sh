#!/bin/sh
# Entrypoint of the smith image (Dockerfile): make the writable Pulumi home in /tmp (the root
# filesystem is read-only), link the image's plugins into it, then run the smith CLI.
set -eu
mkdir -p /tmp/pulumi-home
[ -e /tmp/pulumi-home/plugins ] || ln -s /opt/smith-pulumi-home/plugins /tmp/pulumi-home/plugins
exec node /opt/smith/bin/smith.js "$@"
