package testutil

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// LeakCheck collects every error a package's tests produce and every log
// line its clients write, and the secrets none of them may contain; Main
// checks them all after the tests ran. It is safe for concurrent use.
type LeakCheck struct {
	// Renderings, when set, gives an error's renderings beyond Error,
	// %v, %+v and %#v (a typed error's message and hint, say).
	Renderings func(error) []string

	mu      sync.Mutex
	outputs []string
	secrets map[string]bool
	logs    bytes.Buffer
}

// Seen records an error's every rendering.
func (l *LeakCheck) Seen(err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outputs = append(l.outputs, err.Error(), fmt.Sprintf("%v|%+v|%#v", err, err, err))
	if l.Renderings != nil {
		l.outputs = append(l.outputs, l.Renderings(err)...)
	}
}

// Secret registers values no output may contain.
func (l *LeakCheck) Secret(vals ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.secrets == nil {
		l.secrets = map[string]bool{}
	}
	for _, v := range vals {
		if v != "" {
			l.secrets[v] = true
		}
	}
}

// Write implements io.Writer for the clients' debug logs.
func (l *LeakCheck) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logs.Write(p)
}

// Logger returns a debug logger writing to l.
func (l *LeakCheck) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Check returns a description of every leak, without the secret itself.
func (l *LeakCheck) Check() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := append(append([]string(nil), l.outputs...), l.logs.String())
	var found []string
	for s := range l.secrets {
		for i, out := range all {
			if strings.Contains(out, s) {
				found = append(found, fmt.Sprintf("output %d of %d holds a registered secret of %d bytes", i, len(all), len(s)))
			}
		}
	}
	return found
}

// Main runs the tests, then fails the run when any output held a
// secret: a package's TestMain.
func (l *LeakCheck) Main(m *testing.M) {
	code := m.Run()
	if found := l.Check(); len(found) > 0 {
		fmt.Fprintln(os.Stderr, "SECRET LEAK:\n  "+strings.Join(found, "\n  "))
		code = 1
	} else if code == 0 {
		l.mu.Lock()
		fmt.Fprintf(os.Stderr, "leak check: %d error renderings and %d bytes of logs hold none of %d secrets\n",
			len(l.outputs), l.logs.Len(), len(l.secrets))
		l.mu.Unlock()
	}
	os.Exit(code)
}

// SecretPEM registers a private key's PEM, its body joined, and each of
// its body lines long enough to be telling, as secrets.
func (l *LeakCheck) SecretPEM(keyPEM string) {
	var body strings.Builder
	for _, line := range strings.Split(keyPEM, "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			body.WriteString(line)
			if len(line) >= 32 {
				l.Secret(line)
			}
		}
	}
	l.Secret(keyPEM, body.String())
}
