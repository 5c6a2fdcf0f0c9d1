package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
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

// flagSet is a command's flags and its help: the standard flag package's
// parsing (which takes -flag and --flag alike), with help written the way
// the README writes commands (--flag, -v for one letter), help on stdout
// and errors on stderr.
type flagSet struct {
	*flag.FlagSet
	name     string // the command
	synopsis string // its arguments and flags, as docs/cli.md's synopsis
	about    string // what it does
	c        *cli
}

// newFlagSet returns the flags of command name, which reports errors
// instead of exiting. Name placeholders in usage strings with backquotes
// ("a `FILE` of roots"): help shows them after the flag.
func newFlagSet(name, synopsis, about string, c *cli) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package's own messages use -flag; parseInterleaved writes
	// them itself.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, name: name, synopsis: synopsis, about: about, c: c}
}

// dashed writes a flag as users type it: --name, or -n for one letter.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printHelp writes the command's usage line, description and flags, one a
// line with its placeholder, meaning and default. Commands without flags
// have no "Flags:" heading.
func (fs *flagSet) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: certdrop %s\n", strings.TrimSpace(fs.name+" "+fs.synopsis))
	if fs.about != "" {
		fmt.Fprintf(w, "\n%s\n", fs.about)
	}
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		left := dashed(f.Name)
		if arg != "" {
			left += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" {
			usage += " (default " + def + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %s\n", width, r.left, r.usage)
	}
}

// singleDash finds "-flag" in the flag package's messages.
var singleDash = regexp.MustCompile(`(^|[\s:])-([a-zA-Z0-9][a-zA-Z0-9-]+)`)

// parseInterleaved parses flags that may come before, between or after
// positional arguments, and returns the positional ones. A "--" ends flag
// parsing. For -h/--help it prints the help on stdout and returns
// flag.ErrHelp; for a bad flag it prints the problem on stderr.
func parseInterleaved(fs *flagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printHelp(fs.c.stdout)
				return nil, err
			}
			usageError(fs.c, fs.name, singleDash.ReplaceAllString(err.Error(), "$1--$2"))
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
// usage (parseInterleaved has already printed the problem).
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
