package credchain

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Credentials is an Alibaba Cloud AccessKey pair, with the STS token of a
// temporary one: the credentials a caller gives instead of the chain's
// (Function Compute passes the function role's with every invocation). The
// OSS store and the OpenAPI clients take this one type. It prints, logs
// and marshals with the secret and token redacted, so it cannot leak
// through fmt, log/slog or encoding/json.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	// SecurityToken is set for STS (temporary) credentials, such as the
	// ones Function Compute passes to a function with a role.
	SecurityToken string
}

// Complete reports whether both halves of the AccessKey pair are set.
func (c Credentials) Complete() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// redacted renders c without its secret parts.
func (c Credentials) redacted() string {
	tok := ""
	if c.SecurityToken != "" {
		tok = ", SecurityToken: <redacted>"
	}
	return fmt.Sprintf("Credentials{AccessKeyID: %s, AccessKeySecret: <redacted>%s}", c.AccessKeyID, tok)
}

// Format prints the credentials redacted, for every verb.
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.redacted())) }

// LogValue logs the AccessKey ID only.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", c.AccessKeyID), slog.String("accessKeySecret", "<redacted>"))
}

// MarshalJSON marshals the AccessKey ID only.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID     string `json:"accessKeyId"`
		AccessKeySecret string `json:"accessKeySecret"`
	}{c.AccessKeyID, "<redacted>"})
}
