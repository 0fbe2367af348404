package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
)

// outOfBrokers builds the error sarama's client returns when every seed
// broker failed: ErrOutOfBrokers wrapping the joined per-broker errors.
func outOfBrokers(errs ...error) error { return sarama.Wrap(sarama.ErrOutOfBrokers, errs...) }

// tlsAlert is the shape of a TLS alert the broker sent (a net.OpError whose
// Op is "remote error"); crypto/tls's alert type is not exported.
type tlsAlert string

func (a tlsAlert) Error() string { return string(a) }

func TestExplain(t *testing.T) {
	const secret = "s3cr3t-passw0rd"
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092}
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	sasl := sarama.Wrap(sarama.ErrSASLAuthenticationFailed, errors.New("Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"))
	alert := &net.OpError{Op: "remote error", Err: tlsAlert("tls: bad certificate")}
	unknownCA := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	clientCert := &tls.Config{Certificates: []tls.Certificate{{}}}

	ssl := Options{Brokers: []string{"127.0.0.1:9093"}, TLS: clientCert}
	saslOpts := Options{Brokers: []string{"127.0.0.1:9094"}, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "sitestat", SASLPassword: secret}
	tests := []struct {
		name string
		opts Options
		err  error
		want []string
	}{
		{"refused", Options{Brokers: []string{"127.0.0.1:9092"}}, outOfBrokers(refused),
			[]string{"kafka: cannot connect to broker 127.0.0.1:9092: connection refused", "SITESTAT_KAFKA_BROKERS"}},
		{"refused twice joins to one line", Options{Brokers: []string{"a:1", "b:2"}}, outOfBrokers(refused, refused),
			[]string{"connection refused"}},
		{"sasl with options", saslOpts, outOfBrokers(sasl),
			[]string{`kafka: SASL authentication failed for user "sitestat" (mechanism SCRAM-SHA-512) at 127.0.0.1:9094`, "SITESTAT_KAFKA_SASL_USERNAME/SITESTAT_KAFKA_SASL_PASSWORD"}},
		{"sasl without options", Options{}, outOfBrokers(sasl),
			[]string{"kafka: SASL authentication failed (Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512)"}},
		{"client cert rejected", ssl, outOfBrokers(alert),
			[]string{"kafka: TLS handshake with 127.0.0.1:9093 failed: remote error: tls: bad certificate", "rejected the client certificate", "SITESTAT_KAFKA_CERT_FILE"}},
		{"client cert missing", Options{Brokers: []string{"127.0.0.1:9093"}, TLS: &tls.Config{}}, outOfBrokers(alert),
			[]string{"requires a client certificate and none is configured"}},
		{"untrusted broker certificate", ssl, outOfBrokers(unknownCA),
			[]string{"kafka: TLS handshake with 127.0.0.1:9093 failed: the broker's certificate is not signed by a trusted CA", "x509: certificate signed by unknown authority", "SITESTAT_KAFKA_CA_FILE"}},
		{"host name mismatch", ssl, outOfBrokers(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: &x509.Certificate{}, Host: "kafka.example"}}),
			[]string{"not valid for that host name"}},
		{"not tls", ssl, outOfBrokers(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			[]string{"did not answer with TLS"}},
		{"plaintext to tls port", Options{Brokers: []string{"127.0.0.1:9093"}}, outOfBrokers(io.ErrUnexpectedEOF),
			[]string{"kafka: 127.0.0.1:9093 closed the connection during setup (unexpected EOF)", "TLS off, SASL off"}},
		{"dns", Options{Brokers: []string{"nope.invalid:9092"}}, outOfBrokers(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Name: "nope.invalid", Err: "no such host", IsNotFound: true}}),
			[]string{`cannot resolve broker host "nope.invalid"`}},
		{"no detail", saslOpts, sarama.ErrOutOfBrokers,
			[]string{"no broker at 127.0.0.1:9094 completed the connection setup", "TLS on, SASL SCRAM-SHA-512"}},
		{"circuit breaker", Options{Brokers: []string{"k:1"}}, errors.New("circuit breaker is open"),
			[]string{"paused after repeated failures", "k:1"}},
		{"broker error, one prefix", Options{}, sarama.ErrNotLeaderForPartition,
			[]string{"kafka: Tried to send a message to a replica that is not the leader"}},
		{"unknown topic", Options{}, sarama.ErrUnknownTopicOrPartition, []string{"topic does not exist"}},
		{"other, password redacted", saslOpts, fmt.Errorf("weird failure near %s\nsecond line", secret),
			[]string{"kafka: weird failure near ********; second line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, msg := range []string{tt.opts.Explain(tt.err), tt.opts.wrap("", tt.err).Error()} {
				for _, w := range tt.want {
					if !strings.Contains(msg, w) {
						t.Errorf("explanation\n  %s\ndoes not contain\n  %s", msg, w)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("explanation has several lines: %q", msg)
				}
				if strings.Contains(msg, secret) {
					t.Errorf("explanation contains the password: %q", msg)
				}
			}
		})
	}
}

func TestWrapKeepsChain(t *testing.T) {
	opts := Options{Brokers: []string{"127.0.0.1:9092"}}
	err := opts.wrap("list topics", outOfBrokers(sarama.ErrSASLAuthenticationFailed))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("wrap returned %T", err)
	}
	if !errors.Is(err, sarama.ErrOutOfBrokers) || !errors.Is(err, sarama.ErrSASLAuthenticationFailed) {
		t.Error("the sarama errors are not reachable with errors.Is")
	}
	// Explain of an already explained error is its message, also when wrapped again.
	outer := fmt.Errorf("check: %w", err)
	if got, want := Explain(outer), err.Error(); got != want {
		t.Errorf("Explain(wrapped) = %q, want %q", got, want)
	}
	if got := opts.wrap("x", err); got != err {
		t.Error("wrap wrapped an *Error twice")
	}
	if opts.wrap("x", nil) != nil || Explain(nil) != "" {
		t.Error("nil is not passed through")
	}
	ctxErr := opts.wrap("read t", context.DeadlineExceeded)
	if !errors.Is(ctxErr, context.DeadlineExceeded) || !strings.Contains(ctxErr.Error(), "read t") {
		t.Errorf("context error = %v", ctxErr)
	}
}

// TestExplainBrokerWentAway: a connection failure at an address that worked
// before in this process is a broker going away, not a protocol mismatch.
func TestExplainBrokerWentAway(t *testing.T) {
	seed := "127.0.0.1:19092"
	other := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 19192} // learned from metadata
	reset := func(a net.Addr) error {
		return &net.OpError{Op: "read", Net: "tcp", Addr: a, Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: other, Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	reached := func(addrs ...string) *Reached {
		r := NewReached()
		r.mark(addrs...)
		return r
	}
	const hint = "the port's protocol does not match"
	const away = "went away"
	tests := []struct {
		name    string
		reached *Reached
		brokers []string
		err     error
		want    string
		notWant []string
	}{
		{"never reached, no record", nil, []string{seed}, outOfBrokers(io.EOF), hint, []string{away}},
		{"never reached, empty record", NewReached(), []string{seed}, outOfBrokers(io.EOF), hint, []string{away}},
		{"EOF after the seed worked", reached(seed), []string{seed}, outOfBrokers(io.EOF), away,
			[]string{hint, "SITESTAT_KAFKA_CA_FILE"}},
		{"unexpected EOF, bare", reached(seed), []string{seed}, io.ErrUnexpectedEOF, away, []string{hint}},
		{"reset at the reached address", reached(seed, other.String()), []string{seed}, reset(other), away, []string{hint}},
		{"reset at an address the cluster advertised", reached(seed), []string{seed}, reset(other), away, []string{hint}},
		{"reset at a configured seed never reached", reached("127.0.0.1:1"), []string{"127.0.0.1:1", other.String()}, reset(other), hint, []string{away}},
		{"out of brokers after it worked", reached(seed), []string{seed}, sarama.ErrOutOfBrokers, away, []string{"TLS/SASL settings"}},
		{"refused after it worked", reached(seed), []string{seed}, outOfBrokers(refused), away, []string{"SITESTAT_KAFKA_BROKERS right"}},
		{"refused, never reached", nil, []string{seed}, outOfBrokers(refused), "is Kafka running there", []string{away}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Brokers: tt.brokers, Reached: tt.reached}
			msg := o.Explain(tt.err)
			t.Logf("message: %s", msg)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("explanation does not contain %q", tt.want)
			}
			for _, nw := range tt.notWant {
				if strings.Contains(msg, nw) {
					t.Errorf("explanation contains %q", nw)
				}
			}
			if tt.want == away && !strings.Contains(msg, "reconnecting") {
				t.Error("explanation does not say the client is reconnecting")
			}
		})
	}
}
