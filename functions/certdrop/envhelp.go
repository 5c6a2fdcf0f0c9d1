package main

import (
	"fmt"
	"strings"

	"github.com/certdrop/certdrop/shared/config"
)

// endpointHelp lists the endpoint overrides for a command's help, from
// shared/config's table: name, what it addresses, its default.
func endpointHelp() string {
	vars := config.Endpoints()
	width := 0
	for _, v := range vars {
		width = max(width, len(v.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Endpoint overrides, each %s\n('certdrop sim' prints the emulator's):", config.EndpointRule)
	for _, v := range vars {
		fmt.Fprintf(&b, "\n  %-*s  %s (default %s)", width, v.Name, v.Meaning, strings.ReplaceAll(v.Documented(), "`", ""))
	}
	return b.String()
}
