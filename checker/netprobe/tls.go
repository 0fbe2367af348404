package netprobe

import (
	"crypto/tls"
	"crypto/x509"
	"net"

	"github.com/sitestat/sitestat/internal/text"
)

// probeTLS connects to t and makes a TLS handshake, then verifies the chain
// the server presented against Options.RootCAs for the target's name. The
// handshake itself does not verify, so that the version, the chain and the
// expiry are known for a certificate that fails verification too.
func (p *Prober) probeTLS(ck *check, t *Target) error {
	conn, err := p.dial(ck, t.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ck.phase = "handshake"
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified below, against RootCAs, with the chain kept
		MinVersion:         tls.VersionTLS10,
	}
	if net.ParseIP(t.sni) == nil {
		cfg.ServerName = t.sni // an IP is never sent as SNI
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ck.ctx); err != nil {
		if isTimeout(ck.ctx, err) {
			return err
		}
		return fail(ReasonTLSError, "tls handshake: %s", innermost(err))
	}
	cs := tc.ConnectionState()
	ck.out.TLSVersion = tls.VersionName(cs.Version)
	certs := cs.PeerCertificates
	for _, c := range certs {
		ck.out.Chain = append(ck.out.Chain, Cert{
			Subject:   text.Truncate(c.Subject.String(), MaxNameLen),
			Issuer:    text.Truncate(c.Issuer.String(), MaxNameLen),
			NotBefore: c.NotBefore.UTC(),
			NotAfter:  c.NotAfter.UTC(),
		})
	}
	if len(certs) == 0 {
		return fail(ReasonTLSError, "the server presented no certificate")
	}
	ck.out.CertNotAfter = certs[0].NotAfter.UTC()
	ck.phase = "verify"
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{Roots: p.opts.RootCAs, Intermediates: inter, DNSName: t.sni})
	if err != nil {
		return fail(ReasonTLSError, "certificate: %s", err.Error())
	}
	ck.out.Verified = true
	return nil
}
