package fanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/certdrop/certdrop/shared/plan"
)

// OpenAccount returns the clients that act in the account the manifest
// names name ("" is the function's own account): the Client, and its
// CASClient (nil when it has none). An error (the account's role could
// not be assumed) fails that account's targets, none of which is called.
type OpenAccount func(ctx context.Context, name string) (Client, CASClient, error)

// RoleAssumer is a Client that can act in another account through a RAM
// role there (product.Client).
type RoleAssumer interface {
	// AssumeRole returns the Client acting in the account of the role
	// roleArn, or why the role could not be assumed.
	AssumeRole(ctx context.Context, roleArn string) (Client, error)
}

// AccountError fails a target whose account could not be reached: its
// role was not assumed, so no call was made for it. It unwraps to the
// cause, so the report shows the cause's code and hint.
type AccountError struct {
	Account string
	Err     error
}

// Error names the account and the cause.
func (e *AccountError) Error() string {
	return fmt.Sprintf("account %s: %v; none of its targets was called", e.Account, e.Err)
}

// Unwrap returns the cause.
func (e *AccountError) Unwrap() error { return e.Err }

// RunAccounts deploys p as RunCAS does, the targets of each account
// (plan.Call.Target.Account) through that account's clients (open), every
// account at once. Each account has its own lanes and pacers, since every
// quota is per account, its own CAS uploads (once per account and
// region), and its own stop: an auth failure or a failed canary (the
// first Canary targets of each account) stops that account only. An
// account that cannot be opened fails its targets with an *AccountError;
// the others go on. The results are in the plan's order; the uploads are
// by account in the order their first targets appear, each naming its
// account.
//
// Progress counts the targets of every account together.
func RunAccounts(ctx context.Context, open OpenAccount, p *plan.Plan, opts Options) ([]Result, []Upload) {
	var names []string
	idx := map[string][]int{}
	for i, c := range p.Calls {
		a := c.Target.Account
		if _, ok := idx[a]; !ok {
			names = append(names, a)
		}
		idx[a] = append(idx[a], i)
	}
	if len(names) <= 1 {
		name := ""
		if len(names) == 1 {
			name = names[0]
		}
		return runAccount(ctx, open, name, p, opts)
	}
	// Each account's results are put in the plan's order once every
	// account has ended, not held twice while they run.
	each := make([][]Result, len(names))
	uploads := make([][]Upload, len(names))
	prog := newProgressSum(opts.Progress, len(p.Calls), len(names))
	var wg sync.WaitGroup
	for k, name := range names {
		o := opts
		o.Progress = prog.of(k)
		if opts.Logger != nil && name != "" {
			o.Logger = opts.Logger.With("account", name)
		}
		wg.Go(func() {
			// The account's plan is built here and let go of once its run
			// has its results: no third copy of the calls while it runs.
			sub := *p
			sub.Calls = make([]plan.Call, len(idx[name]))
			for j, i := range idx[name] {
				sub.Calls[j] = p.Calls[i]
			}
			sub.NotCovered = nil
			each[k], uploads[k] = runAccount(ctx, open, name, &sub, o)
		})
	}
	wg.Wait()
	results := make([]Result, len(p.Calls))
	for k, name := range names {
		for j, i := range idx[name] {
			results[i] = each[k][j]
			results[i].index = i
		}
		each[k] = nil
	}
	var all []Upload
	for _, ups := range uploads {
		all = append(all, ups...)
	}
	return results, all
}

// runAccount runs the plan of one account.
func runAccount(ctx context.Context, open OpenAccount, name string, p *plan.Plan, opts Options) ([]Result, []Upload) {
	client, cas, err := open(ctx, name)
	if err != nil {
		results := make([]Result, len(p.Calls))
		ae := &AccountError{Account: name, Err: err}
		for i, c := range p.Calls {
			results[i] = Result{Call: c, State: Failed, Err: ae, index: i}
		}
		if opts.Progress != nil {
			for i := range results {
				opts.Progress(Progress{Done: i + 1, Total: len(results)})
			}
		}
		return results, nil
	}
	results, ups := RunCAS(ctx, client, cas, p, opts)
	for i := range ups {
		ups[i].Account = name
	}
	return results, ups
}

// progressSum adds up the progress of the accounts' runs.
type progressSum struct {
	fn    func(Progress)
	total int
	start time.Time

	mu        sync.Mutex
	done      []int
	throttled []int
}

func newProgressSum(fn func(Progress), total, accounts int) *progressSum {
	return &progressSum{fn: fn, total: total, start: time.Now(), done: make([]int, accounts), throttled: make([]int, accounts)}
}

// of returns the Progress function of account k's run; nil when nobody
// listens.
func (s *progressSum) of(k int) func(Progress) {
	if s.fn == nil {
		return nil
	}
	return func(p Progress) {
		s.mu.Lock()
		s.done[k], s.throttled[k] = p.Done, p.Throttled
		sum := Progress{Total: s.total, Elapsed: time.Since(s.start)}
		for i := range s.done {
			sum.Done += s.done[i]
			sum.Throttled += s.throttled[i]
		}
		s.mu.Unlock()
		s.fn(sum)
	}
}
