package fanout

import (
	"context"

	"github.com/certdrop/certdrop/shared/plan"
)

// Inspection is what one domain carries, as Inspect found it.
type Inspection struct {
	Call plan.Call
	// Installed is nil when Describe failed; Err says why.
	Installed *Installed
	Err       error
}

// Inspect describes the domains of calls without setting anything, paced
// and retried like Run: for reconciles, which must know what every target
// carries. Only the calls' Target, API and DomainName are used.
func Inspect(ctx context.Context, client Client, calls []plan.Call, opts Options) []Inspection {
	r := newRun(ctx, client, &plan.Plan{Calls: calls}, opts)
	defer r.close()
	out := make([]Inspection, len(calls))
	idx := make([]int, len(calls))
	for i := range idx {
		idx[i] = i
	}
	r.pool(ctx, idx, func(i int) {
		res := &r.results[i]
		defer func() {
			if v := recover(); v != nil {
				out[i] = Inspection{Call: res.Call, Err: newPanicError(v)}
			}
		}()
		inst, err := r.describe(ctx, res, describeAttempts, describeThrottled)
		out[i] = Inspection{Call: res.Call, Err: err}
		if err == nil {
			out[i].Installed = &inst
		}
	})
	return out
}
