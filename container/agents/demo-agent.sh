#!/bin/sh
# A tiny stand-in for an LLM agent, used by `npm start`: it reports who it runs as,
# leaves orphans behind (as agent tool calls do), and exits cleanly on SIGTERM.
trap 'echo "demo-agent: got SIGTERM, cleaning up"; exit 0' TERM
echo "demo-agent: running as uid=$(id -u) gid=$(id -g) groups=$(id -G) HOME=$HOME"
if env | grep -q '^SCION_AUTH_TOKEN='; then echo "demo-agent: bootstrap token visible (unexpected)"; else echo "demo-agent: no bootstrap token in my environment"; fi
i=0
while [ "$i" -lt "${DEMO_ORPHANS:-50}" ]; do
  sh -c 'sleep 0.05 & exit 0'
  i=$((i + 1))
done
echo "demo-agent: left ${DEMO_ORPHANS:-50} orphans for init to reap; working for ${DEMO_SECONDS:-2}s"
sleep "${DEMO_SECONDS:-2}" &
wait $!
echo "demo-agent: done"
exit "${DEMO_EXIT_CODE:-0}"
