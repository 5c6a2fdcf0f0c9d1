package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// multiFlag collects a flag given several times (--domain a --domain b).
type multiFlag []string

// String lists the values given, for flag's help output.
func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set adds one value.
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

// newFlagSet returns a flag set that reports errors instead of exiting, and
// prints its usage (synopsis, description and flags) to w.
func newFlagSet(name, synopsis, about string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: certdrop %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags that may come before, between or after
// positional arguments, and returns the positional ones. A "--" ends flag
// parsing. It returns flag.ErrHelp for -h/--help.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError reports a usage problem: the message on stderr, then exitUsage.
func usageError(c *cli, cmd, msg string) int {
	fmt.Fprintf(c.stderr, "certdrop %s: %s\nRun 'certdrop %s --help' for usage.\n", cmd, msg, cmd)
	return exitUsage
}

// flagExit turns a flag parsing error into an exit code: 0 for --help, else
// usage (the flag package has already printed the problem).
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// printJSON writes v as indented JSON, with "<" and ">" left readable
// ("<redacted>").
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
