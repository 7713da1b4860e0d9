#!/bin/sh
set -eu
: "${SSH_USER:?SSH_USER is required}"
: "${SSH_PASSWORD_FILE:?SSH_PASSWORD_FILE is required}"
id "$SSH_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$SSH_USER"
printf '%s:%s\n' "$SSH_USER" "$(cat "$SSH_PASSWORD_FILE")" | chpasswd
ssh-keygen -A >/dev/null
cat > /etc/ssh/sshd_config.d/test.conf <<CONF
PasswordAuthentication yes
AllowTcpForwarding yes
PermitRootLogin no
CONF
exec /usr/sbin/sshd -D -e
