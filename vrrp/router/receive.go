package router

import (
	"context"
	"errors"

	"xlb/vrrp/packet"
)

// receive reads rc's socket until ctx ends and hands each advert to the
// instance of its VRID. A drop is counted, and logged the first time its
// reason is seen for that instance.
func (r *Router) receive(ctx context.Context, rc *rxConn) error {
	for {
		p, err := rc.c.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		// The VRID is the second byte in both versions (RFC 3768 §5.1,
		// RFC 5798 §5.1).
		if len(p.Payload) < 2 {
			continue
		}
		in := rc.byVRID[p.Payload[1]]
		if in == nil {
			continue // another router's VRID: keepalived ignores it too
		}
		drop := func(reason string, err error) {
			if in.rx.add(reason) {
				r.log.Warn("dropped vrrp advert", "instance", in.cfg.VRRP.Name, "src", p.Src, "reason", reason, "err", err)
			}
		}
		// keepalived skips the hop limit check for unicast peers, which
		// may be routed.
		if !rc.key.unicast || p.Dst.IsMulticast() {
			if err := packet.CheckHopLimit(p.HopLimit); err != nil {
				drop(packet.ErrTTL.Error(), err)
				continue
			}
		}
		a, err := packet.Parse(p.Payload, p.Src, p.Dst, packet.ParseOptions{
			AcceptV3ChecksumAsV2:     in.cfg.V3ChecksumAsV2,
			AcceptOldUnicastChecksum: rc.key.unicast && !in.cfg.NeverOldUnicastChecksum,
		})
		if err != nil {
			drop(reason(err), err)
			continue
		}
		in.m.Receive(p.Src, a)
	}
}

// reason names a parse error for the drop counters: the packet package's
// sentinel, or "malformed".
func reason(err error) string {
	for _, s := range parseErrors {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "malformed"
}

var parseErrors = []error{
	packet.ErrTruncated, packet.ErrTrailing, packet.ErrVersion, packet.ErrType, packet.ErrChecksum,
	packet.ErrFamily, packet.ErrVRID, packet.ErrInterval, packet.ErrUnsupportedAuth,
}
