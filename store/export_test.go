package store

// InsertStaged exposes the staging-table write path to the benchmarks.
var InsertStaged = (*DB).insertStaged

// ShareFold exposes the lock a batch takes on rollup_fold to the tests.
var ShareFold = shareFold
