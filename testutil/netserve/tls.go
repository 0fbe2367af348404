package netserve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// TLSOptions say which leaf certificate TLS serves. The zero value is a
// valid leaf for "localhost" and 127.0.0.1, good for a day.
type TLSOptions struct {
	// DNSNames are the leaf's names; nil means "localhost".
	DNSNames []string
	// Expired makes a leaf that expired an hour ago.
	Expired bool
}

// TLSServer is a running TLS listener.
type TLSServer struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Roots holds the chain's root, to verify the server with.
	Roots *x509.CertPool
	// Leaf and Intermediate are the certificates the server presents, in
	// that order.
	Leaf, Intermediate *x509.Certificate
}

// TLS starts a TLS listener on 127.0.0.1 presenting leaf and intermediate
// (root → intermediate → leaf, made for the test). It completes the
// handshake, then closes the connection once the client does.
func TLS(tb testing.TB, opts TLSOptions) TLSServer {
	tb.Helper()
	c := NewChain(tb, opts)
	cfg := &tls.Config{Certificates: []tls.Certificate{c.Certificate}}
	ln := listen(tb, func(conn net.Conn) {
		tc := tls.Server(conn, cfg)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if tc.Handshake() == nil {
			var b [1]byte
			tc.Read(b[:]) // until the client closes
		}
	})
	return TLSServer{Addr: ln.Addr().String(), Roots: c.Roots, Leaf: c.Leaf, Intermediate: c.Intermediate}
}

// Chain is a certificate chain made for a test.
type Chain struct {
	// Certificate is the leaf and intermediate with the leaf's key, for a
	// tls.Config.
	Certificate tls.Certificate
	// Roots holds the root.
	Roots              *x509.CertPool
	Leaf, Intermediate *x509.Certificate
}

// NewChain makes a root, an intermediate and a leaf as opts say (ECDSA
// P-256 keys, quick to make).
func NewChain(tb testing.TB, opts TLSOptions) Chain {
	tb.Helper()
	now := time.Now()
	root, rootKey := mkCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: "netserve test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign,
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour),
	}, nil, nil)
	inter, interKey := mkCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: "netserve test intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:  x509.KeyUsageCertSign,
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour),
	}, root, rootKey)
	names := opts.DNSNames
	if names == nil {
		names = []string{"localhost"}
	}
	notAfter := now.Add(24 * time.Hour)
	if opts.Expired {
		notAfter = now.Add(-time.Hour)
	}
	leaf, leafKey := mkCert(tb, &x509.Certificate{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore:   now.Add(-24 * time.Hour), NotAfter: notAfter,
	}, inter, interKey)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	return Chain{
		Certificate:  tls.Certificate{Certificate: [][]byte{leaf.Raw, inter.Raw}, PrivateKey: leafKey, Leaf: leaf},
		Roots:        roots,
		Leaf:         leaf,
		Intermediate: inter,
	}
}

// mkCert signs tmpl with parent's key (itself when parent is nil).
func mkCert(tb testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("netserve: key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatalf("netserve: serial: %v", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatalf("netserve: certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("netserve: parse certificate: %v", err)
	}
	return cert, key
}
