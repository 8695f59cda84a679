#!/usr/bin/env bash
# The relay's suite: its Rust tests (sessions, bad input, lettre, kill -9),
# then SMTP clients nobody here wrote against `graphmailer relay --demo`:
# Python's smtplib, swaks and curl (installed when missing). With
# --no-cargo the Rust tests are left to the caller (scripts/test.sh runs
# them with the workspace). Ends with "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}
export CARGO_BUILD_TARGET
target_dir=${CARGO_TARGET_DIR:-$root/target}

missing=()
command -v swaks >/dev/null || missing+=(swaks)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "=== installing ${missing[*]}"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# scripts/test.sh installs every suite's needs at its start, with --install.
[ "${1:-}" != --install ] || exit 0

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAILED: $1"; }

if [ "${1:-}" != "--no-cargo" ]; then
  log=$(mktemp)
  # One binary of integration tests per crate: the filters pick the relay's
  # modules and the command line's relay_crash.
  cargo test -p graphmailer-relay -p graphmailer-cli --test it -- \
    relay_crash:: sessions:: bad_input:: clients:: 2>&1 | tee "$log"
  cargo test -p graphmailer-relay --lib 2>&1 | tee -a "$log"
  passed=$((passed + $(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')))
  failed=$((failed + $(grep -Eo '; [0-9]+ failed' "$log" | awk '{s+=$2} END {print s+0}')))
  grep -q '^test result' "$log" || failed=$((failed + 1))
  rm -f "$log"
fi

# Built already when scripts/test.sh says so (GRAPHMAILER_DEBUG_BUILT).
[ -n "${GRAPHMAILER_DEBUG_BUILT:-}" ] || cargo build -q -p graphmailer-cli || { echo "0 passed, 1 failed"; exit 1; }
bin="$target_dir/$CARGO_BUILD_TARGET/debug/graphmailer"

echo "=== Python smtplib"
py_log=$(mktemp)
GRAPHMAILER_BIN=$bin python3 "$here/tests/python/test_smtplib.py" 2>&1 | tee "$py_log"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$py_log" | tail -1)
if [ -n "$summary" ]; then
  passed=$((passed + $(echo "$summary" | awk '{print $1}')))
  failed=$((failed + $(echo "$summary" | awk '{print $3}')))
else
  fail "smtplib tests did not run"
fi
rm -f "$py_log"

echo "=== swaks and curl against relay --demo"
work=$(mktemp -d)
fifo="$work/banner"
mkfifo "$fifo"
"$bin" relay --demo >"$fifo" 2>"$work/relay.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
exec 3<"$fifo"
read -r banner <&3
field() { printf '%s' "$banner" | python3 -c "import json,sys; b=json.load(sys.stdin); print(b$1)"; }
smtp=$(field '["smtp"]'); smtps=$(field '["smtps"]'); ca=$(field '["ca_file"]')
user=$(field '["username"]'); password=$(field '["password"]')
allowed=$(field '["allowed_sender"]'); denied=$(field '["denied_sender"]')
emulator_url=$(field '["emulator"]["url"]'); emulator_ca=$(field '["emulator"]["ca_file"]')

head -c 150000 /dev/urandom >"$work/scan.pdf"
# Waits for the nth message at the emulator and prints it as JSON.
arrived() {
  curl -s --cacert "$emulator_ca" "$emulator_url/_emulator/messages/wait?count=$1&timeout_ms=60000" |
    python3 -c "import json,sys; m=[x for x in json.load(sys.stdin)['messages'] if x['message'].get('subject')==sys.argv[1]]; print(json.dumps(m[0]) if len(m)==1 else '')" "$2"
}

out=$(swaks --server "${smtp%:*}" --port "${smtp##*:}" --tls --tls-verify --tls-ca-path "$ca" \
  --auth PLAIN --auth-user "$user" --auth-password "$password" \
  --from "$allowed" --to ap@fabrikam.example --header "Subject: swaks starttls" \
  --attach-type application/pdf --attach-name scan.pdf --attach @"$work/scan.pdf" 2>&1)
if grep -qE '<[-~]  250 2.0.0 queued as' <<<"$out"; then pass "swaks STARTTLS + AUTH PLAIN: 250 queued"; else fail "swaks STARTTLS: $out"; fi
msg=$(arrived 1 "swaks starttls")
if [ -n "$msg" ] && printf '%s' "$msg" | python3 -c "
import base64,json,sys
m=json.load(sys.stdin); a=m['message']['attachments'][0]
sys.exit(0 if base64.b64decode(a['contentBytes'])==open(sys.argv[1],'rb').read() else 1)" "$work/scan.pdf"; then
  pass "swaks attachment arrived byte for byte"
else
  fail "swaks attachment did not arrive intact"
fi

out=$(swaks --server "${smtps%:*}" --port "${smtps##*:}" --tls-on-connect --tls-verify --tls-ca-path "$ca" \
  --auth LOGIN --auth-user "$user" --auth-password "$password" \
  --from "$allowed" --to ap@fabrikam.example --header "Subject: swaks implicit" 2>&1)
if grep -qE '<[-~]  250 2.0.0 queued as' <<<"$out"; then pass "swaks implicit TLS + AUTH LOGIN: 250 queued"; else fail "swaks implicit TLS: $out"; fi
[ -n "$(arrived 2 "swaks implicit")" ] && pass "swaks implicit-TLS message arrived" || fail "swaks implicit-TLS message did not arrive"

out=$(swaks --server "${smtp%:*}" --port "${smtp##*:}" --auth PLAIN --auth-user "$user" \
  --auth-password "$password" --from "$allowed" --to ap@fabrikam.example 2>&1)
if grep -qE "Host did not advertise authentication|538" <<<"$out"; then pass "swaks without TLS cannot log in"; else fail "swaks without TLS: $out"; fi

out=$(swaks --server "${smtp%:*}" --port "${smtp##*:}" --tls --tls-verify --tls-ca-path "$ca" \
  --auth PLAIN --auth-user "$user" --auth-password "$password" \
  --from "$denied" --to ap@fabrikam.example 2>&1)
if grep -qE '<[~*]\* 550 5.7.1' <<<"$out"; then pass "swaks: a denied sender gets 550 5.7.1 at MAIL FROM"; else fail "swaks denied sender: $out"; fi

printf 'From: %s\r\nTo: ap@fabrikam.example\r\nSubject: curl starttls\r\n\r\nfrom curl\r\n' "$allowed" >"$work/curl.eml"
if curl -sS --url "smtp://$smtp" --ssl-reqd --cacert "$ca" --user "$user:$password" \
  --mail-from "$allowed" --mail-rcpt ap@fabrikam.example --upload-file "$work/curl.eml" 2>&1; then
  pass "curl smtp:// with --ssl-reqd (STARTTLS) and login"
else
  fail "curl STARTTLS"
fi
[ -n "$(arrived 3 "curl starttls")" ] && pass "curl STARTTLS message arrived" || fail "curl STARTTLS message did not arrive"

sed -i 's/curl starttls/curl smtps/' "$work/curl.eml"
if curl -sS --url "smtps://$smtps" --cacert "$ca" --user "$user:$password" \
  --mail-from "$allowed" --mail-rcpt ap@fabrikam.example --upload-file "$work/curl.eml" 2>&1; then
  pass "curl smtps:// (implicit TLS) and login"
else
  fail "curl smtps"
fi
[ -n "$(arrived 4 "curl smtps")" ] && pass "curl smtps message arrived" || fail "curl smtps message did not arrive"

if curl -sS --url "smtps://$smtps" --cacert "$ca" --user "$user:wrong" \
  --mail-from "$allowed" --mail-rcpt ap@fabrikam.example --upload-file "$work/curl.eml" 2>"$work/curl.err"; then
  fail "curl with a wrong password was accepted"
else
  # curl's status 67 is "login denied": the server refused the credentials.
  grep -q "(67)" "$work/curl.err" && pass "curl with a wrong password is refused (login denied)" || fail "curl wrong password: $(cat "$work/curl.err")"
fi

ops=$(field '["http"]')
curl -sf "$ops/livez" >/dev/null && pass "/livez answers" || fail "/livez"
curl -sf "$ops/readyz" >/dev/null && pass "/readyz: token and queue ready" || fail "/readyz"
metrics=$(curl -sf "$ops/metrics")
if grep -q '^graphmailer_messages_total{result="accepted"} 4$' <<<"$metrics" &&
   grep -q '^graphmailer_queue_messages{state="sent"}' <<<"$metrics" &&
   ! grep -q "$allowed" <<<"$metrics"; then
  pass "/metrics counts the accepted messages and the queue, with no addresses"
else
  fail "/metrics: $metrics"
fi
if grep -q "$password" "$work/relay.log"; then fail "the password appears in the relay's log"; else pass "no password in the relay's log"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
