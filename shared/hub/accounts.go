package hub

import (
	"context"
	"fmt"

	"github.com/certdrop/certdrop/shared/fanout"
)

// accounts opens the accounts a rollback or a prune acts in, each once:
// the function's own ("") through its client, the others through open
// (the manifest's roles, as a deployment opens them). Without open, only
// the function's own can be opened. It is not safe for concurrent use.
type accounts struct {
	own    fanout.Client
	ownCAS fanout.CASClient
	open   fanout.OpenAccount
	got    map[string]opened
}

// opened is an account's clients, or why it could not be opened.
type opened struct {
	client fanout.Client
	cas    fanout.CASClient
	err    error
}

func newAccounts(client fanout.Client, cas fanout.CASClient, open fanout.OpenAccount) *accounts {
	return &accounts{own: client, ownCAS: cas, open: open, got: map[string]opened{}}
}

// get returns the clients of the account the manifest names name, opening
// it the first time.
func (a *accounts) get(ctx context.Context, name string) (fanout.Client, fanout.CASClient, error) {
	o, ok := a.got[name]
	if !ok {
		switch {
		case name == "":
			o = opened{client: a.own, cas: a.ownCAS}
		case a.open == nil:
			o.err = fmt.Errorf("this run cannot act in other accounts")
		default:
			o.client, o.cas, o.err = a.open(ctx, name)
		}
		a.got[name] = o
	}
	return o.client, o.cas, o.err
}
