// Package schema holds the JSON Schema of the Mistral DSL v2 workflow files
// fernetflow runs (dsl-v2.json, draft 2020-12). Package workflow validates
// every file against it before its own semantic checks.
package schema

import _ "embed"

// DSLv2 is the JSON Schema document of a workflow file.
//
//go:embed dsl-v2.json
var DSLv2 []byte

// URL is the $id of DSLv2.
const URL = "https://fernetflow.invalid/schema/dsl-v2.json"
