package main

import _ "embed"

// schemaSQL is the database schema (schema.sql), applied by `sitestat migrate`
// through schema.Migrate. It is embedded here because //go:embed cannot
// reach a parent directory from the schema package (whose generator,
// schema/gen, reads the file from disk).
//
//go:embed schema.sql
var schemaSQL string
