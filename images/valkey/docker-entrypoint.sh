#!/bin/sh
# The official image's contract: flags alone run valkey-server with them; a configuration
# file stays the first argument; protected mode off (the container's network decides who
# reaches it: give it a password, requirepass in the file or --requirepass).
set -e
if [ -z "$1" ] || [ "${1#-}" != "$1" ]; then
  set -- valkey-server "$@"
fi
if [ "$1" = "valkey-server" ]; then
  shift
  if [ -n "$1" ] && [ "${1#-}" = "$1" ]; then
    conf=$1
    shift
    set -- valkey-server "$conf" --protected-mode no --dir /data "$@"
  else
    set -- valkey-server --protected-mode no --dir /data "$@"
  fi
fi
exec "$@"
