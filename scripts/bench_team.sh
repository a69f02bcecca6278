# Team mode on PostgreSQL, sourced by scripts/bench (which defines $purser, $client, $target, $work, $seconds,
# $repeats, pids, free_port, wait_port, median, field): paid calls per second through one `purser serve` on
# its SQLite file and through 1, 2 and 3 instances sharing one PostgreSQL ledger; Purser's own share of a paid
# call on each engine; the desktop UI's queries on 1,000,000 payments on PostgreSQL. Writes "$work/team.md".
#
# Each instance pays with a wallet of its own (examples/sandbox_parts: relay, play wallet and demo API), as
# the README advises a team's machines to, so the ledger is the one thing the instances share. Every call is
# `/mpp`, a new 3-sat challenge each time, auto-approved; 10 agents (one connection each) per instance.
team_bench() {
  echo "team mode on PostgreSQL…" >&2
  local pg_home pg_port pg_url team_url serving n i line rps total
  pg_home=$(mktemp -d) && chmod 755 "$pg_home"
  pg_port=$(free_port)
  pg_url=$(scripts/postgres start "$pg_home/data" "$pg_port")
  team_pg_home="$pg_home"
  psql -q "$pg_url" -c "CREATE DATABASE bench_team"
  team_url="${pg_url%/postgres}/bench_team"
  "$purser" --data-dir "$work/team-owner" --database "$team_url" ledger >/dev/null
  psql -q "$team_url" -c "CREATE ROLE bench_serving LOGIN IN ROLE purser_serving" 2>/dev/null || true
  serving="${team_url/\/\/purser@/\/\/bench_serving@}"

  # The same policy and 30 agents on both engines: pay at once up to 1,000 sats, no budget (the default
  # daily one removed).
  local sqlite_dir="$work/team-sqlite" id
  for db in "--database $team_url" ""; do
    # shellcheck disable=SC2086
    "$purser" --data-dir "$sqlite_dir" $db threshold set --auto 1000 --ask 100000 >/dev/null
    # shellcheck disable=SC2086
    for id in $("$purser" --data-dir "$sqlite_dir" $db budget list | sed -n 's/^#\([0-9]*\) .*/\1/p'); do
      # shellcheck disable=SC2086
      "$purser" --data-dir "$sqlite_dir" $db budget remove "$id" >/dev/null
    done
    for i in $(seq -w 1 30); do
      # shellcheck disable=SC2086
      echo "team$i:$("$purser" --data-dir "$sqlite_dir" $db agent add "team$i" | sed -n 's/.* with key \([0-9a-f]*\).*/\1/p')"
    done > "$work/team-agents${db:+-pg}"
  done
  for i in 1 2 3; do
    awk -v i="$i" 'NR % 3 == i % 3' "$work/team-agents-pg" > "$work/team-agents-pg-$i"
  done
  head -n 10 "$work/team-agents" > "$work/team-agents-sqlite"

  # start_instance NAME PORT [DATABASE]: a wallet of its own, then `purser serve` paying with it.
  local demos=()
  start_instance() {
    local name=$1 port=$2 db=${3:-}
    "$target/examples/sandbox_parts" --balance-sats 1000000000 > "$work/$name.parts" & pids+=($!)
    for _ in $(seq 200); do grep -q '^demo=' "$work/$name.parts" 2>/dev/null && break; sleep 0.05; done
    demos+=("$(sed -n 's/^demo=//p' "$work/$name.parts")")
    PURSER_LOG=warn PURSER_NWC_URI="$(sed -n 's/^wallet_uri=//p' "$work/$name.parts")" PURSER_INSTANCE="$name" \
      PURSER_DATABASE_URL="$db" "$purser" --data-dir "$work/$name" serve --listen "127.0.0.1:$port" 2>>"$work/$name.err" &
    pids+=($!)
    wait_port "$port"
  }
  # throughput LABEL AGENT-FILES…: each instance's 10 agents at once for $seconds, all instances together;
  # the total paid calls per second, median of $repeats.
  local ports=()
  throughput() {
    local label=$1; shift
    local files=("$@") runs=() clients
    for _ in $(seq "$repeats"); do
      clients=()
      for i in "${!files[@]}"; do
        "$client" -c 10 -d "$seconds" --proxy "127.0.0.1:${ports[$i]}" --agents "${files[$i]}" "http://${demos[$i]}/mpp" \
          > "$work/team-run-$i" &
        clients+=($!)
      done
      for c in "${clients[@]}"; do wait "$c" || true; done
      total=0
      for i in "${!files[@]}"; do
        rps=$(field rps < "$work/team-run-$i"); total=$((total + ${rps:-0}))
        errors=$(field errors < "$work/team-run-$i"); [ "${errors:-0}" -eq 0 ] || echo "  $label: $errors errors" >&2
      done
      runs+=("$total")
    done
    echo "team_rps $label $(printf '%s\n' "${runs[@]}" | median)" >> "$work/team-results"
  }
  # own_share LABEL PORT AGENTS DEMO: 100 paid calls in a row by one agent, $repeats times: the medians.
  own_share() {
    local p50=() o50=()
    head -n 1 "$3" > "$work/team-one"
    "$client" -c 1 -n 1 --proxy "127.0.0.1:$2" --agents "$work/team-one" "http://$4/mpp" >/dev/null
    for _ in $(seq "$repeats"); do
      line=$("$client" -c 1 -n 100 --proxy "127.0.0.1:$2" --agents "$work/team-one" "http://$4/mpp")
      p50+=("$(field p50_us <<< "$line")"); o50+=("$(field own_p50_us <<< "$line")")
    done
    echo "team_own $1 $(printf '%s\n' "${p50[@]}" | median) $(printf '%s\n' "${o50[@]}" | median)" >> "$work/team-results"
  }

  : > "$work/team-results"
  ports=("$(free_port)")
  start_instance team-sqlite "${ports[0]}"
  own_share sqlite "${ports[0]}" "$work/team-agents-sqlite" "${demos[0]}"
  throughput sqlite "$work/team-agents-sqlite"
  stop_team_instances
  for n in 1 2 3; do
    demos=(); ports=()
    for i in $(seq "$n"); do ports+=("$(free_port)"); start_instance "box$i" "${ports[$((i - 1))]}" "$serving"; done
    [ "$n" -eq 1 ] && own_share postgres "${ports[0]}" "$work/team-agents-pg-1" "${demos[0]}"
    local files=()
    for i in $(seq "$n"); do files+=("$work/team-agents-pg-$i"); done
    throughput "postgres-$n" "${files[@]}"
    stop_team_instances
  done
  psql -q -t "$team_url" -c "SELECT 'team_rows ' || COUNT(*) FROM payments" >> "$work/team-results"

  echo "ledger at scale on PostgreSQL…" >&2
  PURSER_TEST_POSTGRES="$pg_url" cargo bench --quiet --bench ledger_ui 2>/dev/null | grep -E "ms \(median|generated" \
    > "$work/team-ledger.txt" || true
  scripts/postgres stop "$pg_home/data"
  team_pg_home=""
  rm -rf "$pg_home"
  team_report > "$work/team.md"
}

# Stops the instances and wallets started for a measurement (every background job the team section started).
stop_team_instances() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

team_report() {
  awk -v seconds="$seconds" -v repeats="$repeats" -v cores="$(nproc)" '
    $1 == "team_rps" {rps[$2] = $3}
    $1 == "team_own" {wall[$2] = $3; own[$2] = $4}
    $1 == "team_rows" {rows = $2}
    END {
      print "## Team mode on PostgreSQL\n"
      print "`purser serve` instances sharing one PostgreSQL 15 ledger (a local server, loopback) against one instance on"
      print "its SQLite file; every instance pays with a wallet of its own (examples/sandbox_parts), its 10 agents one"
      printf "connection each calling `/mpp` (a new 3-sat challenge each time, auto-approved) for %d s; medians of %d.\n", seconds, repeats
      printf "All instances, their wallets, the clients and the server share this machine'"'"'s %d cores.\n\n", cores
      print "| ledger | instances | paid calls/s (all instances) | vs one SQLite instance |"
      print "| --- | ---: | ---: | ---: |"
      printf "| SQLite file | 1 | %d | 1.00× |\n", rps["sqlite"]
      for (n = 1; n <= 3; n++) printf "| PostgreSQL | %d | %d | %.2f× |\n", n, rps["postgres-" n], (rps["sqlite"] > 0 ? rps["postgres-" n] / rps["sqlite"] : 0)
      print "\n100 paid calls in a row by one agent (the wallet answering at once): wall time and Purser'"'"'s own share"
      print "(its `Server-Timing`: the time less the API and the wallet), p50.\n"
      print "| ledger | wall p50 | own share p50 |"
      print "| --- | ---: | ---: |"
      printf "| SQLite file | %.2f ms | %.2f ms |\n", wall["sqlite"] / 1000, own["sqlite"] / 1000
      printf "| PostgreSQL | %.2f ms | **%.2f ms** |\n", wall["postgres"] / 1000, own["postgres"] / 1000
      printf "\nThe team database held %d payments at the end of the runs.\n", rows
    }' "$work/team-results"
  echo
  echo "The desktop UI's queries on 1,000,000 payments on PostgreSQL (\`PURSER_TEST_POSTGRES=… cargo bench --bench"
  echo "ledger_ui\`), each the median of repeated runs:"
  echo
  echo '```'
  cat "$work/team-ledger.txt"
  echo '```'
  echo
  awk '
    FNR == NR { if ($1 == "team_own" && $2 == "postgres") own = $4; next }
    /ms \(median/ {
      v = $(NF-4) + 0
      if ($0 ~ /^(totals|spend per day, 14 days|spend per agent|budget usage|APIs summary)/ && v > agg) agg = v
      if ($0 ~ /^(first page|page 1,000|largest amounts)/ && v > page) page = v
    }
    function row(what, target, got, ok) { printf "| %s | %s | %s | %s |\n", what, target, got, ok ? "met" : "**not met**" }
    END {
      print "| target (team mode) | | this run | |"
      print "| --- | --- | --- | --- |"
      row("Purser'"'"'s own share of a paid call on PostgreSQL, p50", "≤ 3 ms", sprintf("%.2f ms", own / 1000), own != "" && own <= 3000)
      row("UI aggregates on 1M payments on PostgreSQL (slowest)", "≤ 50 ms", sprintf("%.1f ms", agg), agg > 0 && agg <= 50)
      row("UI filtered page on 1M payments on PostgreSQL (slowest)", "≤ 20 ms", sprintf("%.1f ms", page), page > 0 && page <= 20)
    }' "$work/team-results" "$work/team-ledger.txt"
}
