package job

import (
	"testing"

	"github.com/certdrop/certdrop/shared/fcruntime"
)

func TestCredentialsOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		fc   *fcruntime.Credentials
	}{
		{"none", nil},
		{"STS", &fcruntime.Credentials{AccessKeyID: "STS.id", AccessKeySecret: "sk", SecurityToken: "tok"}},
		{"AccessKey", &fcruntime.Credentials{AccessKeyID: "LTAIid", AccessKeySecret: "sk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := credentialsOf(&fcruntime.Invocation{Credentials: tc.fc})
			if tc.fc == nil {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			if got == nil || got.AccessKeyID != tc.fc.AccessKeyID || got.AccessKeySecret != tc.fc.AccessKeySecret ||
				got.SecurityToken != tc.fc.SecurityToken {
				t.Fatalf("got %v for %v", got, tc.fc)
			}
		})
	}
}
