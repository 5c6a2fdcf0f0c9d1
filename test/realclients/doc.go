// Package realclients holds certdrop's integration test with the renewal
// clients its users run: Debian's pebble (a test ACME CA), certbot and lego
// obtain and renew certificates on loopback, and the hooks shipped in
// deploy/hooks hand them to certdrop through the emulator's OSS trigger.
// The test is in realclients_test.go; it skips where the clients are not
// installed (.ci/run installs them).
package realclients
