#!/usr/bin/env bash
# bench/listing.sh — the REST listing (GET /a/tree/...?children=true&limit=1000) of a
# 1,000-file folder on two cells builds, side by side: BEFORE=path/to/cells AFTER=path/to/cells.
# Three interleaved rounds of wrk -t2 -c8 -d5s each; prints req/s per round (take the median).
#   BEFORE=old/cells AFTER=target/release/cells bash bench/listing.sh
set -euo pipefail
WORK="$(mktemp -d)"; trap 'kill "$(cat "$WORK"/pid-before)" "$(cat "$WORK"/pid-after)" 2>/dev/null; rm -rf "$WORK"' EXIT
cp "${BEFORE:?set BEFORE to a cells binary}" "$WORK/cells-before"; cp "${AFTER:?set AFTER to a cells binary}" "$WORK/cells-after"
cd "$WORK"
start() { # name port
  rm -rf "data-$1"; CELLS_ADMIN_PASSWORD=Adm1n-pw-xyz123 "./cells-$1" start --data "data-$1" --bind "127.0.0.1:$2" --sftp-bind "127.0.0.1:$(( $2 + 1 ))" > "log-$1" 2>&1 &
  echo $! > "pid-$1"; sleep 3
  local tok; tok=$("./cells-$1" admin --data "data-$1" user token -u admin -e 1d -q)
  echo "$tok" > "tok-$1"
  curl -s -H "Authorization: Bearer $tok" -X MKCOL "http://127.0.0.1:$2/dav/personal-files/many" > /dev/null
  local pids=()
  for i in $(seq -w 0 999); do
    curl -s -H "Authorization: Bearer $tok" -T /dev/null "http://127.0.0.1:$2/dav/personal-files/many/f$i" > /dev/null &
    pids+=($!)
    if (( ${#pids[@]} >= 16 )); then wait "${pids[@]}"; pids=(); fi
  done
  (( ${#pids[@]} )) && wait "${pids[@]}"
  local n; n=$(curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$2/a/tree/personal-files/many?children=true&limit=1000" | grep -o '"Uuid"' | wc -l)
  echo "$1: $n entries listed" >&2
}
start before 18110
start after 18120
for round in 1 2 3; do
  for name in before after; do
    port=$([ "$name" = before ] && echo 18110 || echo 18120)
    rps=$(wrk -t2 -c8 -d5s -H "Authorization: Bearer $(cat tok-$name)" "http://127.0.0.1:$port/a/tree/personal-files/many?children=true&limit=1000" | awk '/Requests\/sec/{print $2}')
    echo "round $round $name $rps"
  done
done
