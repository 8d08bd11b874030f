#!/usr/bin/env bash
# A NATS cluster of three servers with JetStream on this machine, for helio: what the
# README's production section describes, on free ports of 127.0.0.1.
#
#   examples/three_servers.sh start DIR [NATS_SERVER]   # prints the url for helio (three
#                                                       # urls, comma-separated)
#   examples/three_servers.sh healthy DIR               # waits until every live server is
#                                                       # healthy (JetStream current)
#   examples/three_servers.sh stop DIR                  # kills the three servers
#
# DIR keeps each server's store, log, ports and pid (DIR/n<i>.pid). `start` returns once all
# three are healthy (/healthz), and fails after 30 s otherwise. Then, for example:
#
#   url=$(examples/three_servers.sh start /tmp/nats3)
#   cargo run --features cluster --example cluster_node -- worker-1 --url "$url" &
#   cargo run --features cluster --example cluster_node -- client --url "$url"
#   kill -9 "$(cat /tmp/nats3/n0.pid)"      # lose one server: helio carries on
set -euo pipefail

usage() {
    echo "usage: $0 start DIR [NATS_SERVER] | healthy DIR | stop DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
command=$1
dir=$2

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whether the server whose monitoring port is $1 answers /healthz with 200.
is_healthy() {
    python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

# Waits until every server that still runs is healthy.
wait_healthy() {
    for _ in $(seq 300); do
        local all=yes
        for i in 0 1 2; do
            local pid
            pid=$(cat "$dir/n$i.pid")
            kill -0 "$pid" 2>/dev/null || continue
            is_healthy "$(cat "$dir/n$i.monitor")" || all=no
        done
        [ "$all" = yes ] && return 0
        sleep 0.1
    done
    echo "the NATS servers in $dir were not healthy within 30 s (see $dir/n*.log)" >&2
    return 1
}

case "$command" in
start)
    server=${3:-nats-server}
    mkdir -p "$dir"
    routes=""
    for i in 0 1 2; do
        echo "$(free_port)" >"$dir/n$i.route"
        routes="$routes${routes:+,}nats://127.0.0.1:$(cat "$dir/n$i.route")"
    done
    for i in 0 1 2; do
        free_port >"$dir/n$i.monitor"
        mkdir -p "$dir/n$i"
        "$server" -a 127.0.0.1 -p -1 -n "n$i" -m "$(cat "$dir/n$i.monitor")" \
            -js --store_dir "$dir/n$i/js" --ports_file_dir "$dir/n$i" \
            --cluster_name helio --cluster "nats://127.0.0.1:$(cat "$dir/n$i.route")" \
            --routes "$routes" >"$dir/n$i.log" 2>&1 &
        echo $! >"$dir/n$i.pid"
    done
    url=""
    for i in 0 1 2; do
        one=""
        for _ in $(seq 100); do
            one=$(grep -ho 'nats://[^"]*' "$dir/n$i"/*.ports 2>/dev/null | head -n 1 || true)
            [ -n "$one" ] && break
            sleep 0.1
        done
        [ -n "$one" ] || { echo "server n$i did not start (see $dir/n$i.log)" >&2; exit 1; }
        url="$url${url:+,}$one"
    done
    wait_healthy
    echo "$url"
    ;;
healthy)
    wait_healthy
    ;;
stop)
    for i in 0 1 2; do
        kill -9 "$(cat "$dir/n$i.pid")" 2>/dev/null || true
    done
    ;;
*)
    usage
    ;;
esac
