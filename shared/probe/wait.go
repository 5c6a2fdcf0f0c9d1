package probe

import (
	"context"
	"fmt"
	"time"
)

// WaitStale re-probes the requests whose result is Stale (or Unreachable,
// for a Fresh request), pausing
// Options.Backoff before the first round and doubling the pause up to
// Options.MaxBackoff, until none is stale, Options.Wait has passed since
// the call, or ctx ends. results are Probe's for reqs (same order); it
// returns them with each re-probed request's last result. A re-probe the
// bound cut keeps the earlier result, so a name is never worse known than
// before the call. It returns an error only when reqs and results do not
// match; the end of ctx or of the bound is the normal end of the wait.
func (p *Prober) WaitStale(ctx context.Context, reqs []Request, results []Result) ([]Result, error) {
	if len(reqs) != len(results) {
		return results, fmt.Errorf("%w: %d requests, %d results", ErrInvalidRequest, len(reqs), len(results))
	}
	if err := Validate(reqs); err != nil {
		return results, err
	}
	out := append([]Result(nil), results...)
	ctx, cancel := context.WithTimeout(ctx, p.opt.Wait)
	defer cancel()
	pause := p.opt.Backoff
	for {
		var stale []int
		for i, r := range out {
			if r.Verdict == Stale || (reqs[i].Fresh && r.Verdict == Unreachable) {
				stale = append(stale, i)
			}
		}
		if len(stale) == 0 {
			return out, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return out, nil
		case <-t.C:
		}
		round := make([]Result, len(out))
		for _, i := range stale {
			round[i].Probes = out[i].Probes
		}
		p.run(ctx, reqs, stale, round)
		for _, i := range stale {
			if round[i].Verdict != Unprobed {
				out[i] = round[i]
			}
		}
		pause = min(pause*2, p.opt.MaxBackoff)
	}
}
