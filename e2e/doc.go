// Package e2e holds sitestat's end-to-end tests: the built binary run as
// separate `sitestat check` and `sitestat sync` processes against the real
// Kafka and PostgreSQL of scripts/services and a local target website
// (testutil/target). The tests restart services and kill processes, so they
// build only with the serial tag and run in make test's serial step:
//
//	eval "$(scripts/services env test)"
//	go test -tags serial -count=1 -v -run '^TestSerial' ./e2e/
package e2e
