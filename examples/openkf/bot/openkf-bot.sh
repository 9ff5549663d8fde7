#!/bin/sh
# Stand-in for the OpenKF bot. The image has no shell, so this file is data.
exec /usr/local/bin/openkf-bot-bin --config /etc/openkf/bot.yaml
