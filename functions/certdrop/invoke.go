package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/certdrop/certdrop/shared/fcruntime"
)

func runInvoke(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("invoke", "--event FILE [--request-id ID] [--timeout SECONDS]",
		"Runs one event locally, as the function would, without the server: for debugging.\n"+
			"FILE is an OSS trigger event, a timer event or a manual invocation ('-' reads stdin).\n"+
			"Configuration comes from the environment, as for 'serve' (CERTDROP_BUCKET is required).\n"+
			"Prints the outcome; exit 0 on success, 1 when anything failed.", c.stderr)
	eventFile := fs.String("event", "", "the event JSON file")
	requestID := fs.String("request-id", "", "request id to use (default: a local one)")
	timeout := fs.Float64("timeout", 0, "function timeout in seconds, as x-fc-function-timeout would say")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	if *eventFile == "" {
		return usageError(c, "invoke", "--event is required")
	}
	var body []byte
	var err error
	if *eventFile == "-" {
		body, err = io.ReadAll(io.LimitReader(os.Stdin, fcruntime.MaxEventSize+1))
	} else {
		body, err = os.ReadFile(*eventFile)
	}
	if err != nil {
		return usageError(c, "invoke", err.Error())
	}
	runner, err := newRunner(c.getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop invoke: %v\n", err)
		return exitUsage
	}
	now := time.Now()
	id := *requestID
	if id == "" {
		id = fmt.Sprintf("local-%d", now.UnixNano())
	}
	inv := &fcruntime.Invocation{RequestID: id, Body: body, Received: now,
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
