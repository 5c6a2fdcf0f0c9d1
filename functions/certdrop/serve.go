package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/fcruntime"
	"github.com/certdrop/certdrop/shared/job"
	"github.com/certdrop/certdrop/shared/store"
)

// newRunner builds the job runner on the real store and API clients.
func newRunner(getenv func(string) string) (*job.Runner, error) {
	cfg, err := job.ConfigFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireBucket(); err != nil {
		return nil, err
	}
	cs := &clients{getenv: getenv}
	return &job.Runner{
		Config: cfg,
		OpenStore: func(ctx context.Context, bucket string, creds *credchain.Credentials) (store.Store, error) {
			return store.OpenOSS(ctx, bucket, "", store.Options{Getenv: getenv, Credentials: creds})
		},
		NewClient: cs.get,
	}, nil
}

// newLogger logs JSON lines (what Function Compute collects), or text when
// stderr is a terminal.
func newLogger(c *cli) *slog.Logger {
	if isTerminal(c.stderr) {
		return slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	return slog.New(slog.NewJSONHandler(c.stderr, nil))
}

func runServe(ctx context.Context, c *cli, args []string) int {
	fs := newFlagSet("serve", "[--listen ADDR]",
		"Runs the Function Compute custom-runtime server: POST /invoke runs an event (OSS trigger,\n"+
			"timer renewal and reconcile, manual re-run, renewal or rollback), POST /initialize, GET /pre-stop. It listens at\n"+
			"FC_CUSTOM_LISTEN_PORT, else FC_SERVER_PORT, else 9000, on all interfaces inside Function\n"+
			"Compute (FC_FUNCTION_NAME set) and on 127.0.0.1 anywhere else; it stops gracefully on SIGTERM.\n"+
			"Configuration comes from the environment (see docs/configuration.md).", c)
	listen := fs.String("listen", "", "the listen `ADDR`, overriding the FC port variables (e.g. 127.0.0.1:9000)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	}
	log := newLogger(c)
	runner, err := newRunner(c.getenv)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop serve: %v\n", err)
		return exitUsage
	}
	addr := *listen
	if addr == "" {
		addr = fcruntime.ListenAddr(c.getenv)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(c.stderr, "certdrop serve: %v\n", err)
		return exitFail
	}
	log.Info("certdrop serving", "addr", l.Addr().String(), "pid", os.Getpid())
	srv := &fcruntime.Server{Handler: runner, Log: log}
	if err := srv.Serve(ctx, l); err != nil {
		log.Error("server stopped", "error", err.Error())
		return exitFail
	}
	log.Info("certdrop stopped")
	return exitOK
}
