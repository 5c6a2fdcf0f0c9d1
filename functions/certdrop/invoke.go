package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/certdrop/certdrop/shared/event"
	"github.com/certdrop/certdrop/shared/fcruntime"
)

func runInvoke(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("invoke", "--event FILE [--request-id ID] [--timeout SECONDS] [--region R]",
		"Runs one event locally, as the function would, without the server: for debugging.\n"+
			"FILE is an OSS trigger event, a timer event, a manual invocation, a manual renewal\n"+
			"({\"mode\":\"renew\",\"certificate\":\"NAME\",\"force\":true}) or a manual rollback\n"+
			"({\"mode\":\"rollback\",\"to\":\"CERTNAME\"}, or {\"mode\":\"rollback\",\"release\":\"NAME\"} to lift\n"+
			"its pin); '-' reads stdin.\n"+
			"Configuration comes from the environment, as for 'serve' (CERTDROP_BUCKET is required).\n"+
			"Prints the outcome; exit 0 on success, 1 when anything failed.", c)
	eventFile := fs.String("event", "", "the event JSON `FILE` (- for stdin)")
	requestID := fs.String("request-id", "", "the request `ID` to use (default: a local one)")
	timeout := fs.Float64("timeout", 0, "the function timeout in `SECONDS`, as x-fc-function-timeout would say")
	region := fs.String("region", "", regionFlagHelp)
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	getenv := withRegion(c.getenv, *region)
	if *eventFile == "" {
		return usageError(c, "invoke", "--event is required")
	}
	body, bodyErr := readEvent(*eventFile)
	if bodyErr != nil && !errors.Is(bodyErr, fcruntime.ErrEventTooLarge) {
		return usageError(c, "invoke", bodyErr.Error())
	}
	runner, err := newRunner(getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop invoke: %v\n", err)
		return exitUsage
	}
	// Every event reads OSS: without a region, refuse now, naming --region,
	// rather than in the outcome. A bad event is answered below, as the
	// function answers it.
	if _, perr := event.Parse(body); perr == nil && bodyErr == nil {
		if err := checkRegion(ctx, getenv); err != nil {
			fmt.Fprintf(c.stderr, "certdrop invoke: %v\n", err)
			return exitUsage
		}
	}
	now := time.Now()
	id := *requestID
	if id == "" {
		id = fmt.Sprintf("local-%d", now.UnixNano())
	}
	// An event over the size cap is answered as the function answers it.
	inv := &fcruntime.Invocation{RequestID: id, Body: body, BodyError: bodyErr, Received: now,
		Timeout: time.Duration(*timeout * float64(time.Second)), Log: newLogger(c).With("requestId", id)}
	out, _ := runner.Invoke(ctx, inv)
	// The exit code says whether anything failed, whether or not Function
	// Compute would retry it.
	var verdict struct{ Status string }
	failed := json.Unmarshal(out, &verdict) != nil || verdict.Status == "failed"
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Fprintln(c.stdout, string(out))
	if failed {
		return exitFail
	}
	return exitOK
}

// readEvent reads the event FILE ("-": stdin), at most
// fcruntime.MaxEventSize bytes of it.
func readEvent(name string) ([]byte, error) {
	if name == "-" {
		return fcruntime.ReadEvent(os.Stdin)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return fcruntime.ReadEvent(f)
}
