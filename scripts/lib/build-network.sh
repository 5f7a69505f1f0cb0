#!/usr/bin/env bash
# The network a build engine runs in (builds are untrusted code): a namespace whose only link is a veth pair to the
# host, and on the host side an iptables chain that lets through only the given ports of the given address; nothing
# is forwarded further. Used by scripts/kiln (its kiln-build namespace) and by the builder image of
# docker-compose.yml (deploy/images/buildkit-entrypoint.sh). Run as root.
#   build-network.sh up   NS VETH HOST_ADDR NS_ADDR ALLOW_ADDR PORTS   (PORTS: comma-separated ports or first:last ranges)
#   build-network.sh down NS VETH
# `up` is idempotent: it keeps an existing namespace and link and rebuilds the chain (the namespace's name in capitals,
# KILN- in front unless it starts so) to hold exactly PORTS.
set -euo pipefail

chain_of() { local c="${1^^}"; [[ $c == KILN-* ]] || c="KILN-$c"; printf '%s' "${c:0:28}"; }

up() {
  local ns=$1 veth=$2 host_addr=$3 ns_addr=$4 allow_addr=$5 ports=$6 peer="${2}p"
  ip netns list | grep -qw "$ns" || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip link add "$veth" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    # No IPv6 on the path: link-local addresses would reach services that listen on [::]. addrgenmode none keeps the
    # links from making any (through netlink: in a container /proc/sys is read-only); the sysctls below where writable.
    ip link set "$veth" addrgenmode none
    ip addr add "$host_addr/30" dev "$veth"
    ip link set "$veth" up
    ip netns exec "$ns" sh -c "ip link set $peer addrgenmode none && ip addr add $ns_addr/30 dev $peer && ip link set $peer up && ip link set lo up && ip route add default via $host_addr"
  fi
  sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1" 2>/dev/null || true
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
  local chain p; chain=$(chain_of "$ns")
  iptables -N "$chain" 2>/dev/null || iptables -F "$chain"
  for p in ${ports//,/ }; do iptables -A "$chain" -d "$allow_addr" -p tcp --dport "$p" -j ACCEPT; done
  iptables -A "$chain" -j DROP
  iptables -C INPUT -i "$veth" -j "$chain" 2>/dev/null || iptables -I INPUT 1 -i "$veth" -j "$chain"
  iptables -C FORWARD -i "$veth" -j DROP 2>/dev/null || iptables -I FORWARD 1 -i "$veth" -j DROP
}

down() {
  local ns=$1 veth=$2 chain; chain=$(chain_of "$ns")
  iptables -D INPUT -i "$veth" -j "$chain" 2>/dev/null || true
  iptables -D FORWARD -i "$veth" -j DROP 2>/dev/null || true
  iptables -F "$chain" 2>/dev/null && iptables -X "$chain" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  *) sed -n 2,8p "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
