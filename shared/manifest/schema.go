package manifest

import (
	"bytes"
	_ "embed"
)

//go:embed manifest.schema.json
var schema []byte

// SchemaURL is the $id of the manifest's JSON Schema.
const SchemaURL = "https://github.com/certdrop/certdrop/shared/manifest/manifest.schema.json"

// Schema returns the JSON Schema (draft 2020-12) of the manifest format,
// for editors and CI linters. Everything Parse accepts, the schema accepts;
// Parse checks more than a schema can express (duplicate domains, host-name
// rules such as label length), so the reverse does not hold. The returned
// slice is the caller's own copy.
func Schema() []byte { return bytes.Clone(schema) }
