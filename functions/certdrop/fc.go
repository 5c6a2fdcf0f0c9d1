//go:build fc

package main

// workstationCommands is empty in the Function Compute package (-tags fc):
// the emulator and the demo CA stay on workstations (see workstation.go).
func workstationCommands() map[string]command { return nil }
