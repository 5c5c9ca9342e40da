package controlplane

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"xlb/controlplane/api"
	"xlb/maps"
)

// FNATFlow is a full-NAT flow as its reverse entry knows it.
type FNATFlow struct {
	Client  netip.AddrPort // the client's address and port
	Service ServiceKey     // what it connected to
	State   string         // syn, established, closing, udp
	Idle    time.Duration  // since the data plane last refreshed the entry
}

// FNATResolver is a backend that can tell the client behind a full-NAT
// local address and port.
type FNATResolver interface {
	FNATClient(real, local netip.AddrPort, proto Protocol) (FNATFlow, error)
}

// fnatStateNames name the data plane's flow states.
var fnatStateNames = map[maps.ConnState]string{maps.ConnSYN: "syn", maps.ConnEstablished: "established",
	maps.ConnClosing: "closing", maps.ConnUDP: "udp"}

// FNATClient looks up the full-NAT reverse entry of the flow from local
// to real: ErrNotFound when there is none.
func (x *XDP) FNATClient(real, local netip.AddrPort, proto Protocol) (FNATFlow, error) {
	r, ok, err := x.dp.LookupFNATReply(maps.Flow{Src: real, Dst: local, Proto: uint8(proto)})
	if err != nil {
		return FNATFlow{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !ok {
		return FNATFlow{}, fmt.Errorf("%w: no full-NAT flow from %s to %s/%s", ErrNotFound, local, real, proto)
	}
	return FNATFlow{
		Client:  r.Client,
		Service: ServiceKey{VIP: r.VIP.Addr(), Port: r.VIP.Port(), Protocol: proto},
		State:   fnatStateNames[r.State],
		Idle:    max(maps.MonotonicNow()-r.LastSeen, 0),
	}, nil
}

// FNATClient asks the backend which client a full-NAT flow belongs to.
func (r *Reconciler) FNATClient(real, local netip.AddrPort, proto Protocol) (FNATFlow, error) {
	res, ok := r.backend.(FNATResolver)
	if !ok {
		return FNATFlow{}, errors.New("this backend has no full-NAT flows")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return res.FNATClient(real, local, proto)
}

func (s *Server) fnatClient(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	real, err := netip.ParseAddrPort(q.Get("real"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("real: want IP:PORT, got %q", q.Get("real")))
		return
	}
	local, err := netip.ParseAddrPort(q.Get("local"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("local: want IP:PORT, got %q", q.Get("local")))
		return
	}
	proto, err := ParseProtocol(q.Get("protocol"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("protocol: %w", err))
		return
	}
	f, err := s.rec.FNATClient(real, local, proto)
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, api.FNATClient{Real: real.String(), Local: local.String(), Protocol: proto.String(),
			Client: f.Client.String(), Service: f.Service.String(), State: f.State, IdleS: f.Idle.Seconds()})
	}
}
