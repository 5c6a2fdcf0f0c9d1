package fcruntime

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNothingOfCertdrop: the runtime contract is FC's, not the
// application's: no package of this module is imported by its code.
func TestImportsNothingOfCertdrop(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/certdrop/certdrop/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "STS.visible", AccessKeySecret: "hidden-secret", SecurityToken: "hidden-token"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, v := range []any{c, &c} {
			s := fmt.Sprintf(verb, v)
			if strings.Contains(s, "hidden") || !strings.Contains(s, "STS.visible") {
				t.Errorf("%s: %s", verb, s)
			}
		}
	}
	if s := c.LogValue().String(); strings.Contains(s, "hidden") || !strings.Contains(s, "STS.visible") {
		t.Errorf("LogValue: %s", s)
	}
}
