#!/usr/bin/env bash
# `make run`: the mock agencies and the bus with embedded defaults (SQLite
# store and JetStream under ./data), in the foreground until Ctrl-C.
set -euo pipefail
config=${1:-deploy/local.yaml}
bin=bin/kopir
mkdir -p data
bin/kopir-mocks > data/mocks.log 2>&1 &
mocks=$!
"$bin" serve -config "$config" 2> >(tee -a data/kopir.log >&2) &
bus=$!
trap 'kill $bus $mocks 2>/dev/null; wait $bus $mocks 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS http://127.0.0.1:8082/readyz >/dev/null 2>&1 && curl -fsS http://127.0.0.1:8090/_control/faults >/dev/null 2>&1; then
    cat <<MSG

  Köpir is ready: internal API http://127.0.0.1:8080, agency http://127.0.0.1:8081, admin http://127.0.0.1:8082, mocks http://127.0.0.1:8090

  Console: http://127.0.0.1:8082/console/   sign in with the demo admin token: admin-token
           (second-operator-token approves held changes; viewer-token only reads)

  Try it:
    curl -H 'Authorization: Bearer demo-token' -d '{"iin":"880501300124"}' http://127.0.0.1:8080/v1/routes/gbdfl.person

  Then:  bin/kopir messages list      bin/kopir messages show <id>
  Async: curl -H 'Authorization: Bearer demo-token' -d '{"event":"paid","iin":"880501300124"}' http://127.0.0.1:8080/v1/routes/subscriber.deliver
  A dead message to replay in the console (the subscriber refuses everything until the fault is cleared):
    curl -X PUT -d '{"failRate":1,"status":400}' http://127.0.0.1:8090/_control/faults/subscriber
    curl -H 'Authorization: Bearer demo-token' -d '{"event":"paid","iin":"880501300124"}' http://127.0.0.1:8080/v1/routes/subscriber.deliver
    curl -X DELETE http://127.0.0.1:8090/_control/faults/subscriber

MSG
    wait $bus
    exit $?
  fi
  if ! kill -0 $bus 2>/dev/null; then echo "kopir failed to start; see above" >&2; exit 1; fi
  sleep 0.2
done
echo "kopir did not become ready in 20s" >&2
exit 1
