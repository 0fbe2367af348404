package netprobe

import (
	"bytes"
	"context"
	"errors"
	"io"
)

// probeTCP connects to t, writes Send, and reads the reply when Expect or
// ReadReply asks for one.
func (p *Prober) probeTCP(ck *check, t *Target) error {
	conn, err := p.dial(ck, t.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if len(t.spec.Send) > 0 {
		ck.phase = "send"
		if _, err := conn.Write(t.spec.Send); err != nil {
			return err
		}
	}
	if len(t.spec.Expect) == 0 && !t.spec.ReadReply {
		return nil
	}
	ck.phase = "read"
	reply, found, err := readReply(conn, t.spec.Expect, p.opts.MaxReply)
	ck.out.Reply = reply
	switch {
	case found:
		return nil
	case errors.Is(ck.ctx.Err(), context.Canceled):
		return ck.ctx.Err()
	case err != nil && !errors.Is(err, io.EOF) && (len(reply) == 0 || !isTimeout(ck.ctx, err)):
		return err // nothing came before the deadline, or the read failed
	case len(t.spec.Expect) == 0:
		return nil // ReadReply: whatever came is the reply
	case len(reply) >= p.opts.MaxReply:
		return fail(ReasonExpectMismatch, "expected text not found in the first %d bytes of the reply", len(reply))
	case err != nil && !errors.Is(err, io.EOF):
		return fail(ReasonExpectMismatch, "expected text not found in the %d bytes read before the deadline", len(reply))
	default:
		return fail(ReasonExpectMismatch, "expected text not found in the %d bytes read before the connection closed", len(reply))
	}
}

// readReply reads from r until expect is found (the reply then ends with
// it), limit bytes were read, EOF or an error; with no expect, until the
// first bytes arrive. The error is nil when expect was found or, without
// expect, when bytes arrived.
func readReply(r io.Reader, expect []byte, limit int) (reply []byte, found bool, err error) {
	buf := make([]byte, 0, min(limit, 512))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow, at most to limit below
		}
		room := buf[len(buf):min(cap(buf), limit)]
		n, rerr := r.Read(room)
		buf = buf[:len(buf)+n]
		if len(expect) > 0 {
			// Look again only where a match could end in the new bytes.
			from := max(0, len(buf)-n-len(expect)+1)
			if i := bytes.Index(buf[from:], expect); i >= 0 {
				return buf[:from+i+len(expect)], true, nil
			}
		} else if len(buf) > 0 {
			return buf, true, nil
		}
		if rerr != nil {
			return buf, false, rerr
		}
	}
	return buf, false, nil
}
