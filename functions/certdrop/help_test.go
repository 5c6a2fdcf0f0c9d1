package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// definedFlags reads the command line's source and returns, per command,
// the flags its run function defines (fs.String("name", ...),
// fs.Var(&v, "name", ...), ...): a list made independently of the help
// output it is checked against.
func definedFlags(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	str := func(e ast.Expr) string {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			return s
		}
		return ""
	}
	out := map[string][]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				cmd := ""
				var flags []string
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "newFlagSet" && len(call.Args) > 0 {
						cmd = str(call.Args[0])
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok {
						return true
					}
					if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fs" {
						return true
					}
					switch sel.Sel.Name {
					case "String", "Bool", "Int", "Int64", "Uint", "Float64", "Duration", "Func", "BoolFunc", "TextVar":
						flags = append(flags, str(call.Args[0]))
					case "Var", "StringVar", "BoolVar", "IntVar", "Float64Var", "DurationVar":
						flags = append(flags, str(call.Args[1]))
					}
					return true
				})
				if cmd != "" {
					out[cmd] = append(out[cmd], flags...)
				}
			}
		}
	}
	return out
}

// multiLetterSingleDash finds a flag written -flag, as the flag package
// would print it, where users type --flag.
var multiLetterSingleDash = regexp.MustCompile(`(^|[\s\[,])-[a-z][a-z-]+`)

// TestHelpListsEveryFlag: each command's --help shows every flag it
// defines, in its usage line and under "Flags:", written as the README
// writes them (--flag, -v), on stdout with exit 0; commands without flags
// print no empty "Flags:" heading.
func TestHelpListsEveryFlag(t *testing.T) {
	defined := definedFlags(t)
	cmds := commands()
	for name := range cmds {
		if _, ok := defined[name]; !ok {
			t.Errorf("no newFlagSet(%q, ...) found for command %s", name, name)
		}
	}
	for name, flags := range defined {
		if _, ok := cmds[name]; !ok {
			continue // not in this build
		}
		t.Run(name, func(t *testing.T) {
			code, out, errs := runCLI(t, name, "--help")
			if code != exitOK || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			usage, _, _ := strings.Cut(out, "\n")
			if !strings.HasPrefix(usage, "Usage: certdrop "+name) {
				t.Errorf("first line %q", usage)
			}
			_, list, hasFlags := strings.Cut(out, "\nFlags:\n")
			if hasFlags != (len(flags) > 0) {
				t.Errorf("%d flags, \"Flags:\" heading %v:\n%s", len(flags), hasFlags, out)
			}
			for _, f := range flags {
				d := dashed(f)
				if !regexp.MustCompile(`(^|[\s\[])` + regexp.QuoteMeta(d) + `\b`).MatchString(usage) {
					t.Errorf("the usage line lacks %s: %s", d, usage)
				}
				if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(d) + `\b`).MatchString(list) {
					t.Errorf("the flag list lacks %s:\n%s", d, list)
				}
			}
			if m := multiLetterSingleDash.FindString(out); m != "" {
				t.Errorf("help writes a flag with one dash (%q):\n%s", m, out)
			}
		})
	}
}

// TestDocumentedFlagsExist: every flag the READMEs and docs/ show with a
// certdrop command (in code blocks, continuation lines included) is a flag of that
// command.
func TestDocumentedFlagsExist(t *testing.T) {
	defined := definedFlags(t)
	// A command starts a line (after a prompt or a path) or follows ; && | (.
	cmdLine := regexp.MustCompile(`(?:^\s*(?:\$\s+)?|(?:;|&&|\|\||\||\$\()\s*)(?:[^\s"']*/)?certdrop\s+([a-z]+)\b(.*)$`)
	flagTok := regexp.MustCompile(`(?:^|[\s\[])(--?[a-zA-Z][a-zA-Z0-9-]*)`)
	checked := 0
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	for _, doc := range append([]string{"../../README.md", "../../deploy/README.md"}, docs...) {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		inCode := false
		cmd := "" // the command a continued line belongs to
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode, cmd = !inCode, ""
				continue
			}
			if !inCode {
				continue
			}
			rest := line
			if m := cmdLine.FindStringSubmatch(line); m != nil {
				cmd, rest = m[1], m[2]
			} else if cmd == "" {
				continue
			}
			if _, ok := defined[cmd]; !ok {
				t.Errorf("%s:%d: no command %q", doc, i+1, cmd)
				cmd = ""
				continue
			}
			code, _, _ := strings.Cut(rest, " #") // comments are prose
			for _, m := range flagTok.FindAllStringSubmatch(code, -1) {
				name := strings.TrimLeft(m[1], "-")
				if name == "help" || name == "h" {
					continue
				}
				checked++
				found := false
				for _, f := range defined[cmd] {
					found = found || f == name
				}
				if !found {
					t.Errorf("%s:%d: certdrop %s has no flag %s", doc, i+1, cmd, m[1])
				}
			}
			if !strings.HasSuffix(strings.TrimSpace(line), `\`) {
				cmd = ""
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d documented flags found: the README parsing is broken", checked)
	}
}
