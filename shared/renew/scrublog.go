package renew

import (
	"context"
	"fmt"
	"log/slog"
)

// scrubHandler removes the engine's known secrets and any private-key PEM
// from every log record, its message and its attributes. The results are
// scrubbed where they are made, but a DNS provider's errors also reach the
// logs directly: through the solver (a record that could not be removed)
// and through acmez, which logs a failed clean-up itself; a provider's
// message might echo its token.
type scrubHandler struct {
	slog.Handler
	e *Engine
}

// Handle implements slog.Handler.
func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.e.scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = h.attr(a)
	}
	return scrubHandler{h.Handler.WithAttrs(scrubbed), h.e}
}

// WithGroup implements slog.Handler.
func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.Handler.WithGroup(name), h.e}
}

// attr scrubs strings, groups, errors and Stringers; other values (numbers,
// times, slices of names) are left as they are.
func (h scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.e.scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		scrubbed := make([]slog.Attr, len(g))
		for i, ga := range g {
			scrubbed[i] = h.attr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(scrubbed...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, h.e.scrub(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, h.e.scrub(x.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
