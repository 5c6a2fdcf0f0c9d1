#!/usr/bin/env bash
# make demo: certdrop's whole loop end to end, offline, on the local emulator.
#
#  1. start `certdrop sim` (the products' OpenAPI, OSS with an OSS trigger,
#     Alibaba Cloud DNS API and an authoritative DNS server for the zone
#     certdrop-demo.test, and an ACME CA, pebble) with a demo account: 20 CDN,
#     5 VOD and 5 Live domains under certdrop-demo.test, one offline, an ALB
#     listener with another team's additional certificate, a CLB listener,
#     an ESA site at its certificate quota and a Function Compute custom
#     domain with routes;
#  2. start `certdrop serve`, the Function Compute custom runtime, against it;
#  3. write the manifest (CERTDROP_MANIFEST): the domains, and a certificates
#     section asking for certdrop-demo.test and *.certdrop-demo.test;
#  4. invoke the daily timer: the function renews the certificate through ACME
#     DNS-01 (TXT records through the DNS API, checked at the DNS server,
#     validated by pebble, removed), writes certs/certdrop-demo.test/bundle.pem,
#     and its reconcile deploys it to every domain and load balancer listener
#     (the ALB listener's default and additional certificates by CAS
#     reference, the CLB listener through one server certificate);
#  5. the OSS trigger fires for the new bundle.pem: its invocation finds every
#     domain already carrying the certificate;
#  6. invoke the timer again: nothing is due, nothing is set;
#  7. deploy two more certificates with delivery: cas from the command line
#     (each uploaded once to CAS, every target set by reference);
#  8. roll back to the first by reference, and show what prune would delete;
#  9. the next timer keeps the rollback;
# 10. every invocation wrote the status page and its status.json in the
#     bucket (the edge's verdict for every domain, probed through the
#     emulator's TLS edge, which serves a new certificate a second after
#     its Set): print it with `certdrop status`, and GET the page through
#     the presigned link `certdrop status --url` prints; stop everything.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-./dist/certdrop}
SIM_CONFIG=testdata/sim/demo.yaml
MANIFEST=testdata/manifests/demo-account.yaml
BUCKET=certdrop-demo
TIMER='{"triggerTime":"2026-11-30T03:00:00Z","triggerName":"daily-reconcile","payload":"{\"mode\":\"reconcile\",\"prefix\":\"certs/\"}"}'

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
	[ -n "${KEEP:-}" ] || rm -rf "$work"
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

# free_port picks a port for `certdrop serve` that nothing listens on, below
# the kernel's ephemeral range: the emulator's own listeners (port 0) and
# every outgoing connection take their ports from that range, so a port
# picked inside it could be taken before serve binds it ("address already
# in use").
free_port() {
	local low=32768 p
	if read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then :; fi
	if [ "$low" -le 12000 ]; then low=32768; fi
	for _ in $(seq 1 50); do
		p=$((10000 + RANDOM % (low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "demo: no free port" >&2
	return 1
}

# trigger_report: the report of the OSS trigger's invocation (the timer's
# are demo-timer-N), once written.
trigger_report() {
	grep '"report written"' "$work/serve.log" 2>/dev/null | grep -v '/demo-timer-' | head -1 | sed -E 's/.*"key":"([^"]+)".*/\1/'
}
has_trigger_report() { [ -n "$(trigger_report)" ]; }
# invoke NAME BODY: POST an event to the function as Function Compute does;
# prints the report it wrote.
invoke() {
	curl -sS --max-time 20 -o "$work/$1.json" -H "x-fc-request-id: demo-$1" -H 'x-fc-function-timeout: 900' -H 'content-type: application/json' \
		--data "$2" "http://127.0.0.1:$port/invoke"
	sed -nE 's/.*"reportKey":"([^"]+)".*/\1/p' "$work/$1.json"
}
# brief: the renewals, the summary line of each report and the verdict of
# an outcome (`certdrop show` without the tables).
brief() { "$BIN" show "$1" | grep -E '^(renewals:|  [^ ].*: |invocation |(OK|FAILED|PARTIAL)[:,] )' || true; }
# count API: the calls of API the emulator answered well, from its journal.
count() { grep "\"api\":\"$1" "$work/journal.jsonl" | grep -c '"outcome":"ok"' || true; }
# refused API CODE: the calls of API the emulator answered with CODE.
refused() { grep "\"api\":\"$1\"" "$work/journal.jsonl" | grep -c "\"code\":\"$2\"" || true; }
# esa_summary: what the ESA site and the FC custom domain were sent so far.
esa_summary() {
	echo "ESA site certdrop-demo.test (quota 2, one certificate not certdrop's): $(count SetCertificate) SetCertificate," \
		"$(refused SetCertificate CertQuotaCheckFailed) answered CertQuotaCheckFailed, $(count DeleteCertificate) DeleteCertificate (certdrop's own only);" \
		"FC fn.certdrop-demo.test: $(count UpdateCustomDomain) UpdateCustomDomain, each with the domain's three routes sent back"
}

step "1. the emulator: $SIM_CONFIG (20 CDN, 5 VOD, 5 Live domains; an ALB and a CLB listener; an ESA site; an FC custom domain; zone certdrop-demo.test; an ACME CA)"
echo "old.certdrop-demo.test is offline: its Set fails, with a hint, on every run (so every run says FAILED)"
port=$(free_port)
"$BIN" sim --config "$SIM_CONFIG" --notify "http://127.0.0.1:$port/invoke" --notify-prefix certs/ \
	--journal "$work/journal.jsonl" >"$work/sim.env" 2>"$work/sim.log" &
pids+=($!)
wait_for grep -q '^# ready' "$work/sim.env"
grep -v "^Export the lines" "$work/sim.log" || true
# shellcheck disable=SC1090
source <(grep '^export ' "$work/sim.env")
export ALIBABA_CLOUD_ACCESS_KEY_SECRET=simSK # sim exports the rest, FC_REGION included

step "2. the function: certdrop serve on 127.0.0.1:$port"
# The renewed chains lead to the emulator's ACME issuing root: trust it as
# a private CA's. CERTDROP_DNS_RESOLVERS and CERTDROP_ACME_TRUST_ROOTS come
# from the emulator's exports.
export CERTDROP_BUCKET=$BUCKET CERTDROP_MANIFEST=$work/manifest.yaml \
	CERTDROP_TRUST_ROOTS=$CERTDROP_SIM_ACME_ISSUER_ROOT CERTDROP_TRIGGER_PREFIX=certs/
"$BIN" serve --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pids+=($!)
wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
echo "listening; its JSON log is $work/serve.log"

step "3. the manifest: 35 targets, and the certificate certdrop-demo.test + *.certdrop-demo.test"
# CERTDROP_MANIFEST names a file, as a path in the code package would; in
# Function Compute it is usually oss://<bucket>/certdrop/manifest.yaml.
sed "s|https://127.0.0.1:14000/dir|$CERTDROP_ACME_DIRECTORY|" "$MANIFEST" >"$work/manifest.yaml"
sed -n '/^certificates:/,$p' "$work/manifest.yaml"
echo "no certificate in the bucket yet: certs/ is empty"

step "4. the daily timer: renew what is due (ACME DNS-01 against the emulator's pebble), then reconcile"
start=$(date +%s%N)
report=$(invoke timer-1 "$TIMER")
ms=$((($(date +%s%N) - start) / 1000000))
"$BIN" show "$report" || true
# The outcome lists the renewals first: the first durationMs is the renewal's.
renewal_ms=$(grep -o '"durationMs":[0-9]*' "$work/timer-1.json" | head -1 | cut -d: -f2)
echo "the emulator's journal: $(count newOrder) ACME order, $(count AddDomainRecord) TXT records added through the DNS API" \
	"and $(count DeleteDomainRecord) deleted; the renewal took ${renewal_ms} ms, the whole invocation ${ms} ms"
echo "the load balancers: $(count UpdateListenerAttribute) ALB default certificate set, $(count AssociateAdditionalCertificatesWithListener)" \
	"additional one added, $(count DissociateAdditionalCertificatesFromListener) removed (the partner's *.example.com stays);" \
	"$(count UploadServerCertificate) CLB server certificate uploaded, $(count SetLoadBalancerHTTPSListenerAttribute) CLB listener set"

esa_summary

step "5. the OSS trigger fired for certs/certdrop-demo.test/bundle.pem: its invocation"
wait_for has_trigger_report
brief "$(trigger_report)"

step "6. the next day's timer: nothing is due, nothing to set"
sets=$(count Set)
lb_writes() { echo $(($(count UpdateListenerAttribute) + $(count AssociateAdditionalCertificatesWithListener) + $(count UploadServerCertificate))); }
lb=$(lb_writes) esa=$(count SetCertificate) fc=$(count UpdateCustomDomain)
report=$(invoke timer-2 "$TIMER")
brief "$report"
timer2_sets=$(($(count Set) - sets))
"$BIN" show "$report" | grep -E '^ *(alb|clb|esa|fc) ' || true
echo "writes on this run: $(($(lb_writes) - lb)) to the load balancers, $(($(count SetCertificate) - esa)) SetCertificate to the ESA site," \
	"$(($(count UpdateCustomDomain) - fc)) UpdateCustomDomain to the FC custom domain"

step "7. delivery: cas from the command line: two more certificates, each uploaded once to CAS and set by reference"
# The manifest with delivery: cas. Two throwaway certificates, the second
# issued a second after the first; the first replaces the renewed one by
# force (it was issued earlier), the second replaces the first.
sed 's/^defaults:/defaults:\n  delivery: cas/' "$work/manifest.yaml" >"$work/manifest-cas.yaml"
"$BIN" gencert --out "$work/a" --domain certdrop-demo.test --domain '*.certdrop-demo.test' --root "$work/a-root.pem" >/dev/null
sleep 1
"$BIN" gencert --out "$work/b" --domain certdrop-demo.test --domain '*.certdrop-demo.test' --root "$work/b-root.pem" >/dev/null
uploads=$(count UploadUserCertificate)
"$BIN" deploy --bundle "$work/a" --manifest "$work/manifest-cas.yaml" --trust-roots "$work/a-root.pem" --force --json >"$work/cas-a.json" 2>/dev/null || true
"$BIN" deploy --bundle "$work/b" --manifest "$work/manifest-cas.yaml" --trust-roots "$work/b-root.pem" 2>/dev/null | grep -E '^(CAS |OK|FAILED)' || true
echo "UploadUserCertificate calls: $(($(count UploadUserCertificate) - uploads)) for two certificates on 35 targets"
esa_summary
name_a=$(grep -o '"certName": *"[^"]*"' "$work/cas-a.json" | head -1 | cut -d'"' -f4)

step "8. rollback to the first of them, by reference: no bundle, no key"
"$BIN" rollback --manifest "$work/manifest-cas.yaml" --to "$name_a" 2>"$work/rollback.err" | grep -E '^(CAS |OK|FAILED)' || true
grep -E '^(pinned|not pinned|NOT PINNED)' "$work/rollback.err" || true

step "9. the rollback holds: the next timer does not redeploy the bundle in the bucket (issued before it); then released"
sleep 1 # the emulator's edge serves the rolled-back certificate a second after its Set
report=$(invoke timer-3 "$TIMER")
brief "$report" | grep -E 'pinned|^invocation' || true
"$BIN" rollback --release certdrop-demo.test || true
# The prune looks at CAS and at the stores products keep of their own: the
# ESA site's certificates and CLB's server certificates in cn-hangzhou.
"$BIN" prune --manifest "$work/manifest-cas.yaml" >"$work/prune.txt" || true
grep -E '^(would delete|FAILED to delete|problem:) |^kept  (esa|clb) ' "$work/prune.txt" || true
tail -1 "$work/prune.txt"

step "10. the status page: certdrop/status/index.html in the bucket, rewritten by every invocation"
"$BIN" status || true # exit 1: old.certdrop-demo.test failed
url=$("$BIN" status --url)
code=$(curl -sS --max-time 10 -o "$work/status.html" -w '%{http_code}' "$url")
echo "certdrop status --url: a link valid one hour; GET answered HTTP $code, a $(wc -c <"$work/status.html")-byte page"

step "done: $(count newOrder) ACME order in all; the second timer run set $timer2_sets certificates; stopping"
