package job

import (
	"github.com/certdrop/certdrop/internal/credchain"
	"github.com/certdrop/certdrop/shared/fcruntime"
)

// credentialsOf returns the credentials Function Compute passed with an
// invocation, as the store and the API clients take them; nil when it
// passed none.
func credentialsOf(fc *fcruntime.Invocation) *credchain.Credentials {
	if fc.Credentials == nil {
		return nil
	}
	c := credchain.Credentials(*fc.Credentials)
	return &c
}
