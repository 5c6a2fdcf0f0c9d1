package manifest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the .err golden files of testdata/manifests")

const manifestsDir = "../../testdata/manifests"

// compileSchema compiles the embedded schema; compiling also checks it
// against the draft 2020-12 meta-schema.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURL, doc); err != nil {
		t.Fatalf("AddResource: %v", err)
	}
	sch, err := c.Compile(SchemaURL)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// schemaValidate validates a YAML or JSON manifest against the schema the
// way an editor does: decoded to plain JSON values first.
func schemaValidate(sch *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	j, err := json.Marshal(jsonValue(v))
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// jsonValue turns YAML's map[any]any (non-string keys) into JSON objects.
func jsonValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonValue(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonValue(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonValue(e)
		}
		return v
	}
	return v
}

// manifestKind says what a file under testdata/manifests must do.
type manifestKind int

const (
	// valid: the schema and Parse both accept it.
	valid manifestKind = iota
	// invalid (in invalid/ or named *invalid*): both reject it.
	invalid
	// beyondSchema (in beyond-schema/): the schema accepts it, Parse
	// rejects it for a rule a schema cannot state (duplicates, host-name
	// rules, YAML merges and aliases).
	beyondSchema
)

func kindOf(rel string) manifestKind {
	switch {
	case strings.HasPrefix(rel, "beyond-schema/"):
		return beyondSchema
	case strings.HasPrefix(rel, "invalid/") || strings.Contains(filepath.Base(rel), "invalid"):
		return invalid
	}
	return valid
}

// TestTestdataManifests runs every manifest in testdata/manifests through
// the schema and through Parse, and checks that they agree; the exact
// errors Parse reports for a rejected file are in the .err file beside it
// (go test -run TestTestdataManifests -update rewrites them).
func TestTestdataManifests(t *testing.T) {
	sch := compileSchema(t)
	count := map[manifestKind]int{}
	err := filepath.WalkDir(manifestsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, manifestsDir+string(filepath.Separator)))
		kind := kindOf(rel)
		count[kind]++
		t.Run(rel, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := schemaValidate(sch, data)
			m, parseErr := parseTest(filepath.Base(path), data)
			switch kind {
			case valid:
				if schemaErr != nil {
					t.Errorf("schema rejects a valid manifest: %v", schemaErr)
				}
				if parseErr != nil {
					t.Errorf("Parse rejects a valid manifest:\n%v", parseErr)
				} else if len(m.Targets) == 0 {
					t.Errorf("Parse returned no targets")
				}
				return
			case invalid:
				if schemaErr == nil {
					t.Errorf("schema accepts an invalid manifest")
				}
			case beyondSchema:
				if schemaErr != nil {
					t.Errorf("schema rejects a beyond-schema manifest (move it to invalid/): %v", schemaErr)
				}
			}
			if parseErr == nil {
				t.Fatalf("Parse accepts an invalid manifest")
			}
			golden := strings.TrimSuffix(path, filepath.Ext(path)) + ".err"
			got := parseErr.Error() + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("golden: %v", err)
			}
			if got != string(want) {
				t.Errorf("Parse errors:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Guard against a test that passes because it found nothing.
	if count[valid] < 4 || count[invalid] < 10 || count[beyondSchema] < 3 {
		t.Errorf("found %d valid, %d invalid, %d beyond-schema manifests; want at least 4, 10, 3",
			count[valid], count[invalid], count[beyondSchema])
	}
}

// TestExampleYAMLAndJSON checks that example.json is example.yaml: the
// same manifest apart from where each domain is written.
func TestExampleYAMLAndJSON(t *testing.T) {
	y, err := loadTest(filepath.Join(manifestsDir, "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := loadTest(filepath.Join(manifestsDir, "example.json"))
	if err != nil {
		t.Fatal(err)
	}
	strip := func(ts []Target) []Target {
		out := append([]Target(nil), ts...)
		for i := range out {
			out[i].Line = 0
		}
		return out
	}
	if y.Defaults != j.Defaults || !reflect.DeepEqual(strip(y.Targets), strip(j.Targets)) {
		t.Errorf("example.yaml and example.json differ:\n%+v %+v\n%+v %+v", y.Defaults, y.Targets, j.Defaults, j.Targets)
	}
	want := []Target{
		{Product: CDN, Domain: "www.example.com", Line: 10},
		{Product: CDN, Domain: "img.example.com", Line: 10},
		{Product: CDN, Domain: "*.example.com", Line: 10},
		{Product: VOD, Domain: "vod.example.com", Region: VODRegionShanghai, Line: 12},
		{Product: Live, Domain: "pull.example.com", Bundle: "certs/example.com/", Line: 15},
	}
	if !reflect.DeepEqual(y.Targets, want) {
		t.Errorf("example.yaml targets:\n got %+v\nwant %+v", y.Targets, want)
	}
}

func TestSchema(t *testing.T) {
	var doc struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
	}
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != SchemaURL || doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema, $id = %q, %q", doc.Schema, doc.ID)
	}
	s := Schema()
	s[0] = 'x'
	if Schema()[0] != '{' {
		t.Errorf("Schema returned the package's own slice")
	}
}
