#!/usr/bin/env bash
# make demo: certdrop's main job end to end, offline, on the local emulator.
#
#  1. start `certdrop sim` (CDN/VOD/Live OpenAPI + OSS with an OSS trigger)
#     with a demo account: 20 CDN, 5 VOD and 5 Live domains, one offline;
#  2. start `certdrop serve`, the Function Compute custom runtime, against it;
#  3. issue a demo CA and a renewed certificate, upload the manifest and then
#     the bundle (certificate, then key) into the emulator's bucket;
#  4. the emulator's OSS trigger invokes the function for each file: the
#     first finds half a bundle ("waiting"), the second deploys it;
#  5. print the report the function wrote; upload the bundle again and show
#     that every domain is now unchanged; stop everything.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-./dist/certdrop}
SIM_CONFIG=testdata/sim/demo.yaml
MANIFEST=testdata/manifests/demo-account.yaml
BUCKET=certdrop-demo
FOLDER=certs/certdrop-demo.test/

work=$(mktemp -d "${TMPDIR:-/tmp}/certdrop-demo.XXXXXX")
pids=()
cleanup() {
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "demo failed; the last lines of the logs:" >&2
		tail -n 20 "$work/sim.log" "$work/serve.log" >&2 2>/dev/null || true
	fi
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for CMD...: retry CMD for up to 20 seconds.
wait_for() {
	for _ in $(seq 1 200); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "demo: timed out waiting for: $*" >&2
	return 1
}

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "demo: no free port" >&2
	return 1
}

# reports: how many reports the function has written so far.
reports() { grep -c '"report written"' "$work/serve.log" 2>/dev/null || true; }
has_reports() { [ "$(reports)" -ge "$1" ]; }
last_report() { grep '"report written"' "$work/serve.log" | tail -1 | sed -E 's/.*"key":"([^"]+)".*/\1/'; }

step "1. the emulator: $SIM_CONFIG (20 CDN, 5 VOD, 5 Live domains; old.certdrop-demo.test is offline)"
port=$(free_port)
"$BIN" sim --config "$SIM_CONFIG" --notify "http://127.0.0.1:$port/invoke" --notify-prefix certs/ \
	--journal "$work/journal.jsonl" >"$work/sim.env" 2>"$work/sim.log" &
pids+=($!)
wait_for grep -q '^# ready' "$work/sim.env"
grep -v "^Export the lines" "$work/sim.log" || true
# shellcheck disable=SC1091
source <(grep '^export ' "$work/sim.env")
export ALIBABA_CLOUD_ACCESS_KEY_SECRET=simSK # sim exports the rest, FC_REGION included

step "2. the function: certdrop serve on 127.0.0.1:$port"
export CERTDROP_BUCKET=$BUCKET CERTDROP_MANIFEST=oss://$BUCKET/certdrop/manifest.yaml \
	CERTDROP_TRUST_ROOTS=$work/demo-root.pem CERTDROP_TRIGGER_PREFIX=certs/
"$BIN" gencert --out "$work/certdrop-demo.test" --root "$work/demo-root.pem" \
	--domain certdrop-demo.test --domain '*.certdrop-demo.test' --days 90
"$BIN" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pids+=($!)
wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
echo "listening; its JSON log is $work/serve.log"

step "3. upload the manifest, then the renewed bundle (certificate first, then key)"
cp "$MANIFEST" "$work/manifest.yaml"
"$BIN" push "$work/manifest.yaml" --to "oss://$BUCKET/certdrop/"
mv "$work/certdrop-demo.test/privkey.pem" "$work/privkey.pem"
"$BIN" push "$work/certdrop-demo.test/fullchain.pem" --to "oss://$BUCKET/$FOLDER"
wait_for grep -q '"bundle waiting"' "$work/serve.log"
echo "the function: $(grep '"bundle waiting"' "$work/serve.log" | head -1 | sed -E 's/.*"reason":"([^"]+)".*/\1/')"
"$BIN" push "$work/privkey.pem" --to "oss://$BUCKET/$FOLDER"

step "4. the report the function wrote"
# The first upload's outcome (waiting) is written too; the second deploys.
wait_for has_reports 2
"$BIN" show "$(last_report)" || true

step "5. upload the same bundle again: nothing to do"
before=$(reports)
mv "$work/privkey.pem" "$work/certdrop-demo.test/privkey.pem"
"$BIN" push "$work/certdrop-demo.test" --to "oss://$BUCKET/$FOLDER"
wait_for has_reports $((before + 2))
"$BIN" show "$(last_report)" || true

sets=$(grep -c '"api":"Set' "$work/journal.jsonl" || true)
step "done: the emulator answered $sets Set calls in all; stopping"
