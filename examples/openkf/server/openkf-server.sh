#!/bin/sh
# Stand-in for the OpenKF server binary. The image has no shell, so this file
# is data: the example only shows how the image is built and pushed.
exec /usr/local/bin/openkf-server-bin --config /etc/openkf/server.yaml
