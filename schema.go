package main

import _ "embed"

// schemaSQL is the database schema (schema.sql), applied by `sitestat migrate`
// through store.DB.Migrate. It is embedded here because //go:embed cannot
// reach a parent directory from the store package.
//
//go:embed schema.sql
var schemaSQL string
