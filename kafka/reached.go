package kafka

import (
	"slices"
	"sync"

	"github.com/IBM/sarama"
)

// Reached records the broker addresses with which a client built from the
// Options holding it has completed a connection: the connection setup (TLS,
// API versions, SASL) and a metadata request succeeded. Explain reads it to
// tell a broker that went away (a restart, a maintenance) from settings that
// do not match the port: only an address never reached gets the TLS/SASL
// hint. Make one per process with NewReached and put it in every Options
// built from the configuration; a nil *Reached has reached nothing. It is
// safe for concurrent use.
type Reached struct {
	mu    sync.Mutex
	addrs map[string]struct{}
}

// NewReached returns an empty record.
func NewReached() *Reached { return &Reached{addrs: make(map[string]struct{})} }

// mark records addrs as reached. A nil r records nothing.
func (r *Reached) mark(addrs ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range addrs {
		r.addrs[a] = struct{}{}
	}
}

// has reports whether addr was reached.
func (r *Reached) has(addr string) bool {
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.addrs[addr]
	return ok
}

// markSeeds records o's bootstrap addresses after a client built from o
// completed its setup and fetched metadata through one of them (sarama does
// not say which: the bootstrap list counts as one address, which it is in
// practice, e.g. Aiven's service URI).
func (o Options) markSeeds() { o.Reached.mark(o.brokers()...) }

// markClient records the bootstrap addresses and every broker the cluster
// advertised to client, which has just fetched metadata.
func (o Options) markClient(client sarama.Client) {
	o.markSeeds()
	for _, b := range client.Brokers() {
		o.Reached.mark(b.Addr())
	}
}

// reachedBefore reports whether a connection at addr worked before in this
// process; an empty addr (the error names no broker) stands for o's
// bootstrap list. An address that is not in o's configuration came from the
// metadata of a cluster already reached with these settings (the same
// listener on another broker), so it counts as reached once the bootstrap
// list has been.
func (o Options) reachedBefore(addr string) bool {
	seeds := o.brokers()
	seedReached := slices.ContainsFunc(seeds, o.Reached.has)
	switch {
	case addr == "":
		return seedReached
	case o.Reached.has(addr):
		return true
	default:
		return seedReached && !slices.Contains(seeds, addr)
	}
}
