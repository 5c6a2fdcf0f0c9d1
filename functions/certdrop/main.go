// Command certdrop installs renewed TLS certificates on the Alibaba Cloud
// domains a manifest lists, whatever their product. It is both the
// Function Compute custom-runtime server and the command line; see
// README.md and docs/cli.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	goruntime "runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

// version is certdrop's version, set at build time by make
// (-ldflags "-X main.version=..."); when unset, the module version or
// commit the Go toolchain recorded is shown instead.
var version string

// versionString says which certdrop this is: the version v (else the
// module's), the commit it was built from when the toolchain recorded it,
// the Go version and platform.
func versionString(v string, info *debug.BuildInfo, ok bool) string {
	var details []string
	if ok {
		if v == "" && info.Main.Version != "" {
			v = info.Main.Version
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if settings["vcs.modified"] == "true" {
				rev += ", modified"
			}
			details = append(details, "commit "+rev)
		}
		if tags := settings["-tags"]; tags != "" {
			details = append(details, "tags "+tags)
		}
	}
	if v == "" {
		v = "(devel)"
	}
	details = append(details, goruntime.Version(), goruntime.GOOS+"/"+goruntime.GOARCH)
	return fmt.Sprintf("certdrop %s (%s)", v, strings.Join(details, ", "))
}

// Exit codes shared by every command.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the job ran and something failed (invalid bundle, failed target)
	exitUsage = 2 // bad usage or bad input: nothing was called
)

// cli carries what a command needs from its environment, so commands can be
// run from tests with their own streams and environment.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand: a one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, c *cli, args []string) int
}

// commands returns every command of this build: the ones every build has,
// plus the workstation-only ones (sim, gencert; see workstation.go), which
// the Function Compute package (built with -tags fc) leaves out.
func commands() map[string]command {
	cmds := map[string]command{
		"validate": {"check a certificate bundle before deploying it", runValidate},
		"plan":     {"show the API calls a bundle and manifest would make", runPlan},
		"deploy":   {"deploy a bundle to the manifest's targets and report", runDeploy},
		"serve":    {"run the Function Compute custom-runtime server", runServe},
		"invoke":   {"run one event locally, as the function would", runInvoke},
		"push":     {"upload a bundle's files into the watched bucket folder", runPush},
		"renew":    {"obtain or renew the manifest's certificates through ACME (DNS-01)", runRenew},
		"show":     {"print a report as tables", runShow},
		"status":   {"print the fleet's status (every target, its certificate and probe), or a link to the page", runStatus},
		"rollback": {"redeploy a certificate already in CAS to the targets, by reference", runRollback},
		"prune":    {"delete certdrop's old certificates from CAS (dry run unless --yes)", runPrune},
		"schema":   {"print the manifest's JSON Schema", runSchema},
	}
	for name, cmd := range workstationCommands() {
		cmds[name] = cmd
	}
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &cli{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, c *cli, args []string) int {
	cmds := commands()
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version" || args[0] == "version") {
		info, ok := debug.ReadBuildInfo()
		fmt.Fprintln(c.stdout, versionString(version, info, ok))
		return exitOK
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(c.stdout, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "certdrop: unknown command %q\n\n", args[0])
		usage(c.stderr, cmds)
		return exitUsage
	}
	return cmd.run(ctx, c, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "certdrop installs renewed TLS certificates on Alibaba Cloud CDN, DCDN, VOD, Live and OSS custom domains.")
	fmt.Fprintln(w, "\nUsage: certdrop <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'certdrop <command> --help' for a command's flags, 'certdrop --version' for the version.")
}
