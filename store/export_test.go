package store

// InsertStaged exposes the staging-table write path to the benchmarks.
var InsertStaged = (*DB).insertStaged
