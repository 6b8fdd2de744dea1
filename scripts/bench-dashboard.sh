#!/usr/bin/env bash
# Dashboard benchmark (not in CI): a --demo server whose ledger is padded to N hazards
# (default 100,000), then the time of each main page and export, measured with curl.
#
# The padding rows are written straight into the ledger table (copies of the demo
# hazards with varied sites, categories, grades, statuses, deadlines and dates), because
# every dashboard page and export reads only the ledger; creating 100,000 Automerge
# documents through sync would measure sync, not the dashboard.
#
#   scripts/bench-dashboard.sh [N]        (uses the release build; builds it if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q --release -p saferound-server
bin="$target/release/saferound-server"
dir="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"

"$bin" --db "$dir/db" --blobs "$dir/blobs" --listen "127.0.0.1:$port" --log warn --demo --demo-hazards >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/out" 2>/dev/null && break; sleep 0.2; done
kill "$pid"; wait "$pid" 2>/dev/null || true

python3 - "$dir/db" "$n" <<'PY'
import random, sqlite3, sys, datetime
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
cols = [r[1] for r in c.execute("PRAGMA table_info(ledger_hazards)")]
seed = [dict(zip(cols, r)) for r in c.execute("SELECT * FROM ledger_hazards")]
sites = c.execute("SELECT id, name, kind FROM sites").fetchall()
cats = ["fire_safety","lab_chemicals","school_bus","buildings","food_safety","theft","traffic","gate_control","other"]
risks = [("low",0,"general"),("general",1,"general"),("significant",2,"general"),("major",3,"major")]
statuses = ["reported","in_rectification","awaiting_verification","closed","deferred"]
start = datetime.datetime(2026, 1, 1)
rnd = random.Random(7)
rows = []
for i in range(n):
    r = dict(rnd.choice(seed))
    s = rnd.choice(sites)
    risk = rnd.choice(risks)
    at = start + datetime.timedelta(minutes=rnd.randrange(0, 60*24*330))
    r.update(id="%08x-0000-7000-8000-%012x" % (i, i), site_id=s[0], site_name=s[1], site_kind=s[2],
             category=rnd.choice(cats), risk=risk[0], risk_rank=risk[1], hazard_grade=risk[2],
             status=rnd.choice(statuses), reported_at=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             deadline=(at + datetime.timedelta(days=rnd.randrange(3, 60))).strftime("%Y-%m-%d"),
             description="第%d号隐患：疏散通道堆放杂物" % i)
    rows.append(tuple(r[k] for k in cols))
c.executemany("INSERT INTO ledger_hazards VALUES (%s)" % ",".join("?" * len(cols)), rows)
c.commit()
c.execute("ANALYZE")
print("ledger hazards:", c.execute("SELECT COUNT(*) FROM ledger_hazards").fetchone()[0])
PY

# A provincial reviewer, for the province's grid.
SAFEROUND_PASSWORD=long-enough-pw "$bin" --db "$dir/db" --blobs "$dir/blobs" --log warn \
  admin create-user --login province --name 省厅审阅 --roles provincial_reviewer >/dev/null

"$bin" --db "$dir/db" --blobs "$dir/blobs" --listen "127.0.0.1:$port" --log warn --now 2026-12-01T09:00:00+08:00 >"$dir/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/out" 2>/dev/null && break; sleep 0.2; done
curl -s -c "$dir/jar" -o /dev/null -d "login=office&password=saferound-demo" "$url/login"
hazard=$(curl -s -b "$dir/jar" "$url/ledger" | grep -o '/hazards/[0-9a-f-]\{36\}' | head -1)
site=$(curl -s -b "$dir/jar" "$url/ledger" | grep -o 'option value="[0-9a-f-]\{36\}"' | head -1 | grep -o '[0-9a-f-]\{36\}')
# A campaign over the whole padded year, so its summary counts every row.
csrf=$(curl -s -b "$dir/jar" "$url/campaigns" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | grep -o '[0-9a-f]\{16,\}')
campaign=$(curl -s -b "$dir/jar" -o /dev/null -w '%{redirect_url}' --data-urlencode "csrf=$csrf" \
  --data-urlencode "name=2026 全年排查" --data-urlencode "starts=2026-01-01" --data-urlencode "ends=2026-12-31" \
  --data-urlencode "phases=排查 | 2026-01-01 | 2026-12-31" "$url/campaigns" | grep -o '/campaigns/[0-9a-f-]*$')
[ -n "$campaign" ] || { echo "could not create the campaign" >&2; exit 1; }
curl -s -c "$dir/jar-province" -o /dev/null -d "login=province&password=long-enough-pw" "$url/login"
printf '| page | time (s) | bytes |\n| --- | --- | --- |\n'
for path in /ledger "/ledger?page=1000" "/ledger?risk=major&status=in_rectification" "/ledger?site=$site&category=fire_safety" \
            "/ledger?overdue=1" "/ledger?from=2026-06-01&to=2026-06-30" /overdue "$hazard" /weekly /incidents \
            "/export/ledger.csv?risk=major" /export/ledger.csv /export/ledger.xlsx \
            /campaigns "$campaign" "$campaign/summary" "/export$campaign/summary.csv" "/export$campaign/summary.xlsx" \
            /export/weekly.csv /export/weekly.xlsx /weekly/2026-W49/institution \
            /export/weekly/2026-W49/institution.csv /duty /checklists; do
  curl -s -b "$dir/jar" -o /dev/null -w "| \`${path//|/\\|}\` | %{time_total} | %{size_download} |\n" "$url$path"
done
curl -s -c "$dir/jar-admin" -o /dev/null -d "login=demo-admin&password=saferound-demo" "$url/login"
curl -s -b "$dir/jar-admin" -o /dev/null -w "| \`/admin\` (administrator) | %{time_total} | %{size_download} |\n" "$url/admin"
for path in /province/weekly /export/province/weekly.csv; do
  curl -s -b "$dir/jar-province" -o /dev/null -w "| \`$path\` (provincial reviewer) | %{time_total} | %{size_download} |\n" "$url$path"
done
