package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
)

// Error is an error from a Kafka operation with a one-line explanation of its
// cause that a user can act on: which broker, what failed, which setting to
// check. The explanation never contains the SASL password. The underlying
// sarama or network error stays reachable with errors.Is and errors.As.
type Error struct {
	msg string
	err error
}

// Error returns the one-line explanation.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.err }

// wrap returns err as an *Error explained in the context of o; op (may be
// empty) names the operation for causes that are not about the connection.
// nil, context errors and errors that are already an *Error pass through.
func (o Options) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if op != "" && e == nil {
			return fmt.Errorf("kafka: %s: %w", op, err)
		}
		return err
	}
	return &Error{msg: o.explain(op, err), err: err}
}

// Explain returns a one-line explanation of err, a Kafka error returned by
// this package or by a sarama client it built: the cause (SASL credentials
// refused, client certificate rejected, broker certificate not trusted, broker
// unreachable, protocol mismatch, …) and the setting to check. At an address
// a client of the same Options reached before (Options.Reached), a closed,
// reset, refused or timed-out connection is explained as the broker going
// away while the client reconnects, without the TLS/SASL hint. Errors returned
// by this package's functions already read this way; Explain is for errors
// that arrive later, e.g. from a consumer group's Errors channel.
func Explain(err error) string {
	return Options{}.Explain(err)
}

// Explain is like the function Explain, but names o's brokers, SASL user and
// mechanism when the error does not say them, and removes o's password should
// it appear in the underlying error.
func (o Options) Explain(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.msg
	}
	return o.explain("", err)
}

// explain builds the one-line explanation; see Explain.
//
//nolint:funlen // one table of Kafka failures and the hint each gets, read top to bottom.
func (o Options) explain(op string, err error) string {
	where := "the broker"
	if len(o.Brokers) > 0 {
		where = strings.Join(o.brokers(), ",")
	}
	// addr is the broker a network error names, else every configured one.
	addr, named := where, ""
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Addr != nil {
		addr = opErr.Addr.String()
		named = addr
	}
	// worked: a connection at addr succeeded before in this process, so a
	// failure there is the broker going away, not settings that do not match.
	worked := o.reachedBefore(named)

	var (
		msg        string
		cfgErr     sarama.ConfigurationError
		certVerify *tls.CertificateVerificationError
		unknownCA  x509.UnknownAuthorityError
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &cfgErr):
		msg = "kafka: invalid client configuration: " + string(cfgErr)

	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		if o.SASLUsername != "" {
			msg = fmt.Sprintf("kafka: SASL authentication failed for user %q (mechanism %s) at %s: check SITESTAT_KAFKA_SASL_USERNAME/SITESTAT_KAFKA_SASL_PASSWORD",
				o.SASLUsername, o.SASLMechanism, where)
		} else {
			msg = fmt.Sprintf("kafka: SASL authentication failed (%s): check SITESTAT_KAFKA_SASL_USERNAME/SITESTAT_KAFKA_SASL_PASSWORD", innermost(err))
		}

	case errors.Is(err, sarama.ErrUnsupportedSASLMechanism), errors.Is(err, sarama.ErrIllegalSASLState):
		msg = fmt.Sprintf("kafka: %s does not accept SASL mechanism %q on this port: check SITESTAT_KAFKA_SASL_MECHANISM and that the port is the SASL_SSL one",
			where, o.SASLMechanism)

	case errors.As(err, &hostErr):
		msg = fmt.Sprintf("kafka: TLS handshake with %s failed: the broker's certificate is not valid for that host name (%v): use the host name Aiven shows in SITESTAT_KAFKA_BROKERS",
			where, &hostErr)

	case errors.As(err, &unknownCA), errors.As(err, &certVerify):
		msg = fmt.Sprintf("kafka: TLS handshake with %s failed: the broker's certificate is not signed by a trusted CA (%s): check SITESTAT_KAFKA_CA_FILE (Aiven: ca.pem)",
			where, innermost(err))

	case errors.As(err, &invalidErr):
		msg = fmt.Sprintf("kafka: TLS handshake with %s failed: the broker's certificate is invalid (%v)", where, &invalidErr)

	case opErr != nil && opErr.Op == "remote error":
		// A TLS alert sent by the broker. With TLS 1.3 the client certificate
		// is checked after the client's side of the handshake, so a rejected
		// certificate shows up here, on the first read.
		alert := opErr.Err.Error() // "tls: bad certificate", "tls: certificate required", …
		switch {
		case strings.Contains(alert, "certificate") && !o.hasClientCert():
			msg = fmt.Sprintf("kafka: TLS handshake with %s failed: remote error: %s: the broker requires a client certificate and none is configured: set SITESTAT_KAFKA_CERT_FILE and SITESTAT_KAFKA_KEY_FILE (Aiven: service.cert, service.key)",
				where, alert)
		case strings.Contains(alert, "certificate"):
			msg = fmt.Sprintf("kafka: TLS handshake with %s failed: remote error: %s: the broker rejected the client certificate: check SITESTAT_KAFKA_CERT_FILE and SITESTAT_KAFKA_KEY_FILE (Aiven: service.cert, service.key)",
				where, alert)
		default:
			msg = fmt.Sprintf("kafka: TLS handshake with %s failed: remote error: %s", where, alert)
		}

	case errors.As(err, &recordErr):
		msg = fmt.Sprintf("kafka: %s did not answer with TLS (%v): the port is not a TLS port, or TLS is configured by mistake",
			where, recordErr)

	case errors.As(err, &dnsErr):
		msg = fmt.Sprintf("kafka: cannot resolve broker host %q (%v): check SITESTAT_KAFKA_BROKERS", dnsErr.Name, dnsErr)

	case errors.Is(err, syscall.ECONNREFUSED) && worked:
		msg = fmt.Sprintf("kafka: cannot connect to broker %s: connection refused: %s", addr, wentAway)

	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("kafka: cannot connect to broker %s: connection refused: is Kafka running there, and is SITESTAT_KAFKA_BROKERS right?", addr)

	case errors.As(err, &netErr) && netErr.Timeout() && worked:
		msg = fmt.Sprintf("kafka: timed out talking to %s (%s): the broker went away or is overloaded; the client is reconnecting", addr, innermost(err))

	case errors.As(err, &netErr) && netErr.Timeout():
		msg = fmt.Sprintf("kafka: timed out talking to %s (%s): check the address, the firewall, and that the TLS/SASL settings match the port", addr, innermost(err))

	case connectionLost(err) && worked:
		msg = fmt.Sprintf("kafka: lost the connection to %s (%s): %s", addr, innermost(err), wentAway)

	case connectionLost(err):
		msg = fmt.Sprintf("kafka: %s closed the connection during setup (%s): the port's protocol does not match the client's (%s): PLAINTEXT needs neither, SSL needs SITESTAT_KAFKA_CA_FILE (and the client certificate), SASL_SSL needs the CA and SITESTAT_KAFKA_SASL_*",
			addr, innermost(err), o.security())

	case errors.Is(err, sarama.ErrOutOfBrokers) && errors.Unwrap(err) == nil && worked:
		msg = fmt.Sprintf("kafka: no broker at %s answers now, after earlier connections worked: %s", where, wentAway)

	case errors.Is(err, sarama.ErrOutOfBrokers) && errors.Unwrap(err) == nil:
		msg = fmt.Sprintf("kafka: no broker at %s completed the connection setup: check the address and that the TLS/SASL settings (%s) match the port",
			where, o.security())

	case errors.Is(err, sarama.ErrTopicAuthorizationFailed), errors.Is(err, sarama.ErrClusterAuthorizationFailed),
		errors.Is(err, sarama.ErrGroupAuthorizationFailed):
		who := "the client"
		if o.SASLUsername != "" {
			who = fmt.Sprintf("user %q", o.SASLUsername)
		}
		msg = fmt.Sprintf("kafka: %s is not authorized (%s): grant the ACLs for it", who, innermost(err))

	case strings.Contains(err.Error(), "circuit breaker is open"):
		// sarama pauses a partition after repeated failures (its error comes
		// from github.com/eapache/go-resiliency/breaker, matched by text).
		msg = fmt.Sprintf("kafka: %ssending is paused after repeated failures (circuit breaker open): the partition's leader at %s is unreachable or failing",
			opPrefix(op), where)

	case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
		msg = "kafka: " + opPrefix(op) + "the topic does not exist (automatic topic creation is off here): create it first"

	default:
		text := strings.TrimPrefix(err.Error(), "kafka: ")
		text = strings.TrimPrefix(text, "kafka server: ")
		msg = "kafka: " + opPrefix(op) + text
	}
	return o.redact(oneLine(msg))
}

// wentAway ends the explanation of a connection failure at an address that
// worked before in this process: a broker restart, not a setting to change.
const wentAway = "the broker went away (a restart or maintenance?); the client is reconnecting"

// connectionLost reports whether err is the peer closing or resetting the
// connection.
func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// security describes the client's TLS and SASL settings for messages.
func (o Options) security() string {
	tlsState := "TLS off"
	if o.TLS != nil {
		tlsState = "TLS on"
		if o.hasClientCert() {
			tlsState += " with a client certificate"
		}
	} else if o.SASLMechanism != "" {
		tlsState = "TLS on"
	}
	if o.SASLMechanism == "" {
		return tlsState + ", SASL off"
	}
	return tlsState + ", SASL " + o.SASLMechanism
}

// hasClientCert reports whether o's TLS configuration offers a client certificate.
func (o Options) hasClientCert() bool {
	return o.TLS != nil && (len(o.TLS.Certificates) > 0 || o.TLS.GetClientCertificate != nil)
}

// redact removes the SASL password from s, should it ever get there.
func (o Options) redact(s string) string {
	if o.SASLPassword == "" {
		return s
	}
	return strings.ReplaceAll(s, o.SASLPassword, "********")
}

func opPrefix(op string) string {
	if op == "" {
		return ""
	}
	return op + ": "
}

// innermost returns the text of the first deepest error in err's tree: the
// actual cause without sarama's "out of brokers" wrapping.
func innermost(err error) string {
	for {
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			errs := u.Unwrap()
			if len(errs) == 0 {
				return err.Error()
			}
			err = errs[0]
		case interface{ Unwrap() error }:
			next := u.Unwrap()
			if next == nil {
				return err.Error()
			}
			// Keep the text of errors that add context (net.OpError's
			// "remote error: …", x509's reason) rather than the bare leaf.
			if _, ok := err.(*net.OpError); ok {
				return err.Error()
			}
			if _, ok := err.(*tls.CertificateVerificationError); ok {
				return err.Error()
			}
			err = next
		default:
			return err.Error()
		}
	}
}

// oneLine joins the lines of s (errors.Join separates with newlines).
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.ReplaceAll(s, "\n", "; ")
}
