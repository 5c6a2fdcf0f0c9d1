package main

import (
	"io"
	"log/slog"
)

// cliLogger logs at debug level to w when verbose, else errors only.
func cliLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelError
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
