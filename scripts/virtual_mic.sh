#!/usr/bin/env bash
# A virtual microphone for machines without a sound card (CI, containers, servers).
#
# Starts a private PulseAudio server whose default input ("virtmic") records
# whatever is played into its null sink ("nullsink"), so the real PyAudio API,
# dejavu_lab.live.microphone and `dejavu-lab` recognition from the microphone work.
# Works as root and without a terminal. Same recipe as tests/pulse.py.
#
#   eval "$(scripts/virtual_mic.sh start)"   # exports PULSE_SERVER for this shell
#   scripts/virtual_mic.sh play song.wav     # play a file "into the room" (blocks)
#   scripts/virtual_mic.sh status
#   scripts/virtual_mic.sh stop
#
# Needs: apt-get install pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
# The state folder is $VIRTUAL_MIC_DIR (default /tmp/dejavu-virtual-mic-$UID).
set -euo pipefail

DIR="${VIRTUAL_MIC_DIR:-/tmp/dejavu-virtual-mic-$(id -u)}"
SOCKET="$DIR/native"
SERVER="unix:$SOCKET"
RATE="${VIRTUAL_MIC_RATE:-44100}"

die() { echo "virtual_mic: $*" >&2; exit 1; }

client_env() {
    env XDG_RUNTIME_DIR="$DIR/runtime" HOME="$DIR/home" PULSE_SERVER="$SERVER" "$@"
}

is_running() {
    [ -S "$SOCKET" ] && client_env pactl info >/dev/null 2>&1
}

start() {
    for tool in pulseaudio pactl paplay parec; do
        command -v "$tool" >/dev/null || die "$tool not found: apt-get install pulseaudio pulseaudio-utils"
    done
    if is_running; then
        echo "export PULSE_SERVER=$SERVER"
        return
    fi
    rm -rf "$DIR"
    mkdir -p -m 0700 "$DIR" "$DIR/runtime" "$DIR/home"
    cat >"$DIR/server.pa" <<EOF
load-module module-native-protocol-unix auth-anonymous=1 socket=$SOCKET
load-module module-null-sink sink_name=nullsink rate=$RATE
load-module module-remap-source master=nullsink.monitor source_name=virtmic channels=1 channel_map=mono
set-default-sink nullsink
set-default-source virtmic
EOF
    env -u PULSE_SERVER XDG_RUNTIME_DIR="$DIR/runtime" HOME="$DIR/home" \
        setsid pulseaudio -n -F "$DIR/server.pa" --daemonize=no --exit-idle-time=-1 \
        --disallow-exit --use-pid-file=no --log-target=stderr \
        </dev/null >"$DIR/server.log" 2>&1 &
    echo $! >"$DIR/server.pid"
    for _ in $(seq 100); do
        is_running && break
        sleep 0.1
    done
    is_running || die "pulseaudio did not start; see $DIR/server.log"
    # Without a low-latency client the null sink renders 2 s blocks, and every
    # new recording waits up to 2 s for its first sample: keep one connected.
    client_env setsid parec --device=virtmic --raw --latency-msec=10 \
        </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/keeper.pid"
    sleep 2.1
    echo "export PULSE_SERVER=$SERVER"
}

stop() {
    local pids=()
    for name in keeper server; do
        if [ -f "$DIR/$name.pid" ]; then
            pids+=("$(cat "$DIR/$name.pid")")
        fi
    done
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    rm -rf "$DIR"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status)
        if is_running; then
            echo "running: export PULSE_SERVER=$SERVER"
            client_env pactl list short sources
        else
            echo "not running"
            exit 1
        fi
        ;;
    play)
        [ $# -ge 2 ] || die "usage: $0 play FILE.wav"
        is_running || die "not running: eval \"\$($0 start)\" first"
        client_env paplay --device=nullsink "$2"
        ;;
    *)
        echo "usage: $0 start|stop|status|play FILE" >&2
        exit 2
        ;;
esac
