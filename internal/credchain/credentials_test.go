package credchain

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "LTAIvisible", AccessKeySecret: "hidden-secret", SecurityToken: "hidden-token"}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(b))
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("creds", "c", c)
	outs = append(outs, sb.String())
	for _, s := range outs {
		if strings.Contains(s, "hidden") {
			t.Errorf("credentials rendered with a secret: %s", s)
		}
		if !strings.Contains(s, "LTAIvisible") {
			t.Errorf("credentials rendered without the AccessKey ID: %s", s)
		}
	}
}

func TestCredentialsComplete(t *testing.T) {
	for _, tc := range []struct {
		c    Credentials
		want bool
	}{
		{Credentials{AccessKeyID: "a", AccessKeySecret: "s"}, true},
		{Credentials{AccessKeyID: "a", AccessKeySecret: "s", SecurityToken: "t"}, true},
		{Credentials{AccessKeyID: "a"}, false},
		{Credentials{AccessKeySecret: "s"}, false},
		{Credentials{}, false},
	} {
		if got := tc.c.Complete(); got != tc.want {
			t.Errorf("%v.Complete() = %v, want %v", tc.c, got, tc.want)
		}
	}
}
