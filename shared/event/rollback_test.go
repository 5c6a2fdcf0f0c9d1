package event

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRollback(t *testing.T) {
	tests := []struct {
		body, wantErr string
		want          RollbackEvent
	}{
		{body: `{"mode":"rollback","to":"certdrop-example.com-20270221-534547a4"}`,
			want: RollbackEvent{Mode: "rollback", To: "certdrop-example.com-20270221-534547a4"}},
		{body: `{"mode":"rollback","to":"certdrop-x","dryRun":true}`, want: RollbackEvent{Mode: "rollback", To: "certdrop-x", DryRun: true}},
		{body: `{"mode":"rollback"}`, wantErr: "names no certificate"},
		{body: `{"mode":"rollback","to":"  "}`, wantErr: "names no certificate"},
		{body: `{"mode":"rollback","To":"certdrop-x"}`, wantErr: `unknown field "To"`},
		{body: `{"mode":"rollback","to":"certdrop-x","force":true}`, wantErr: `unknown field "force"`},
		{body: `{"mode":"rollback","to":"` + strings.Repeat("a", 300) + `"}`, wantErr: "more than 256"},
		{body: `{"mode":"rollback","to":7}`, wantErr: "manual rollback"},
		{body: `{"mode":"rollback","release":"example.com"}`, want: RollbackEvent{Mode: "rollback", Release: "example.com"}},
		{body: `{"mode":"rollback","release":"example.com","to":"certdrop-x"}`, wantErr: "both"},
		{body: `{"mode":"rollback","release":" "}`, wantErr: "names nothing"},
		{body: `{"mode":"rollback","release":"` + strings.Repeat("a", 300) + `"}`, wantErr: "more than 256"},
	}
	for _, tt := range tests {
		ev, err := Parse([]byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || !errors.Is(err, ErrUnrecognized) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%.60s) = %v; want an ErrUnrecognized containing %q", tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil || ev.Kind != KindRollback || *ev.Rollback != tt.want {
			t.Errorf("Parse(%s) = %+v, %v; want %+v", tt.body, ev, err, tt.want)
		}
	}
}
