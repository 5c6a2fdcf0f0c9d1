package main

import (
	"context"

	"github.com/certdrop/certdrop/shared/manifest"
)

func runSchema(_ context.Context, c *cli, args []string) int {
	fs := newFlagSet("schema", "",
		"Prints the manifest's JSON Schema, for editors (YAML language servers take it with\n"+
			"'# yaml-language-server: $schema=<file>').", c)
	if rest, err := parseInterleaved(fs, args); err != nil {
		return flagExit(err)
	} else if len(rest) > 0 {
		return usageError(c, "schema", "takes no arguments")
	}
	_, _ = c.stdout.Write(manifest.Schema())
	return exitOK
}
