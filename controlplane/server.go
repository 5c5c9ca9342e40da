package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"xlb/controlplane/api"
)

// Server serves the API of package api for a Reconciler.
type Server struct {
	rec    *Reconciler
	log    *slog.Logger
	checks func() api.Checks // nil: no health monitor
	vrrp   func() api.VRRP   // nil: no VRRP
}

// SetVRRP gives the server the VRRP instances' state for GET /v1/vrrp.
func (s *Server) SetVRRP(f func() api.VRRP) { s.vrrp = f }

// SetChecks gives the server the health checks' state for GET /v1/checks.
func (s *Server) SetChecks(f func() api.Checks) { s.checks = f }

// NewServer returns an API server for rec.
func NewServer(rec *Reconciler, logger *slog.Logger) *Server {
	return &Server{rec: rec, log: logger}
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathServices, s.services)
	mux.HandleFunc("GET "+api.PathReasons, s.reasons)
	mux.HandleFunc("GET "+api.PathExplain, s.explain)
	mux.HandleFunc("GET "+api.PathFNATClient, s.fnatClient)
	mux.HandleFunc("GET "+api.PathChecks, s.getChecks)
	mux.HandleFunc("GET "+api.PathVRRP, s.getVRRP)
	mux.HandleFunc("PUT "+api.PathWeight, s.weight)
	return mux
}

// Listen opens the unix socket at path with mode 0600, creating its
// directory. A socket file left by a dead daemon is replaced; one that a
// live daemon answers on is not.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("socket %s: another xlbd is listening on it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod socket %s: %w", path, err)
	}
	return l, nil
}

// Serve answers API requests on l until ctx ends, then closes l (which
// removes the socket file).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve api: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	<-errc
	return err
}

func (s *Server) services(w http.ResponseWriter, _ *http.Request) {
	st, obs := s.rec.Snapshot()
	writeJSON(w, http.StatusOK, ServicesView(st, obs))
}

func (s *Server) reasons(w http.ResponseWriter, _ *http.Request) {
	counts, err := s.rec.Reasons()
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("read counters: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.Reasons{Reasons: counts})
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	k, err := ParseServiceKey(r.URL.Query().Get("service"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("service: %w", err))
		return
	}
	client, err := netip.ParseAddrPort(r.URL.Query().Get("client"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("client: want IP:PORT, got %q", r.URL.Query().Get("client")))
		return
	}
	e, err := s.rec.Explain(k, client)
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, explanationView(e))
	}
}

// explanationView is an Explanation in the API's terms.
func explanationView(e Explanation) api.Explanation {
	str := func(a netip.AddrPort) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	out := api.Explanation{
		Service: e.Service.String(), Client: e.Client.String(), Real: str(e.Real), DecidedBy: e.DecidedBy,
		Scheduler: e.Scheduler, Hash: e.Hash, Slot: e.Slot, TableSize: e.TableSize, SlotReal: str(e.SlotReal),
		Notes: e.Notes,
	}
	if c := e.Conn; c != nil {
		out.Conn = &api.TrackedConn{Real: str(c.Real), State: c.State, IdleS: c.Idle.Seconds(), TimeoutS: c.Timeout.Seconds()}
	}
	if t := e.Template; t != nil {
		out.Template = &api.Template{Client: t.Client.String(), Real: str(t.Real), IdleS: t.Idle.Seconds(), TimeoutS: t.Timeout.Seconds()}
	}
	return out
}

// ServicesView joins the desired state with what the backend observes into
// the API's listing.
func ServicesView(st State, obs map[ServiceKey]ServiceObservation) api.Services {
	out := api.Services{Services: []api.Service{}}
	for _, svc := range st.Services {
		o := obs[svc.Key]
		as := api.Service{
			VIP:         svc.Key.VIP.String(),
			Port:        svc.Key.Port,
			Protocol:    svc.Key.Protocol.String(),
			Scheduler:   svc.Scheduler,
			ServedBy:    o.Served,
			Kind:        svc.Kind,
			Status:      o.Status,
			Reason:      o.Reason,
			Packets:     o.Packets,
			Bytes:       o.Bytes,
			OutPackets:  o.OutPackets,
			OutBytes:    o.OutBytes,
			Connections: o.Connections,
			Reals:       []api.Real{},
		}
		if svc.Sorry.IsValid() {
			as.SorryServer, as.SorryActive = svc.Sorry.String(), o.SorryActive
		}
		as.Quorum, as.QuorumUp = svc.Quorum, svc.QuorumUp
		if svc.Persistence > 0 {
			as.PersistenceS = uint32(svc.Persistence / time.Second)
			as.PersistenceGranularity = persistBits(svc.Key.VIP, svc.PersistenceGranularity)
		}
		as.OPS = svc.OPS && svc.Key.Protocol == UDP
		for _, r := range svc.Reals {
			ro := o.Reals[r.Addr]
			ar := apiReal(r, ro.State, ro.Reason)
			ar.MAC, ar.Iface, ar.Packets, ar.Bytes = ro.MAC, ro.Ifname, ro.Packets, ro.Bytes
			ar.OutPackets, ar.OutBytes = ro.OutPackets, ro.OutBytes
			ar.Connections, ar.ActiveConns, ar.InactiveConns = ro.Connections, ro.ActiveConns, ro.InactiveConns
			as.Reals = append(as.Reals, ar)
		}
		for _, r := range svc.Down {
			as.Reals = append(as.Reals, apiReal(r, api.RealDown, "health check failed: "+r.HealthReason))
		}
		slices.SortFunc(as.Reals, func(a, b api.Real) int {
			return netip.AddrPortFrom(netip.MustParseAddr(a.Address), a.Port).Compare(netip.AddrPortFrom(netip.MustParseAddr(b.Address), b.Port))
		})
		out.Services = append(out.Services, as)
	}
	return out
}

// apiReal is r as the API lists it, in state with reason; counters and
// next hop are the caller's.
func apiReal(r Real, state, reason string) api.Real {
	ar := api.Real{
		Address:         r.Addr.Addr().String(),
		Port:            r.Addr.Port(),
		Weight:          r.ConfigWeight,
		Override:        r.Override,
		DynamicWeight:   r.DynamicWeight,
		EffectiveWeight: r.Weight,
		State:           state,
		Reason:          reason,
	}
	if r.Down {
		ar.Health = "down"
		if state != api.RealDown {
			// Inhibited: in the data plane at weight 0.
			ar.Reason = "health check failed (inhibit_on_failure): " + r.HealthReason
		}
	} else if r.Checked {
		ar.Health = "up"
	}
	return ar
}

func (s *Server) getChecks(w http.ResponseWriter, _ *http.Request) {
	out := api.Checks{Time: time.Now(), Services: []api.CheckService{}}
	if s.checks != nil {
		out = s.checks()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getVRRP(w http.ResponseWriter, _ *http.Request) {
	out := api.VRRP{Instances: []api.VRRPInstance{}, Groups: []api.VRRPGroup{}}
	if s.vrrp != nil {
		out = s.vrrp()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) weight(w http.ResponseWriter, r *http.Request) {
	var req api.WeightRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("body: %w", err))
		return
	}
	k, err := ParseServiceKey(req.Service)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("service: %w", err))
		return
	}
	a, err := netip.ParseAddrPort(req.Real)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("real: want RIP:PORT, got %q", req.Real))
		return
	}
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if req.Weight == nil {
		writeError(w, http.StatusBadRequest, errors.New("weight: missing"))
		return
	}
	err = s.rec.SetWeight(r.Context(), k, a, *req.Weight)
	switch {
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		s.log.Error("weight override not fully written", "service", k.String(), "real", a.String(), "err", err)
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, api.WeightResponse{Service: k.String(), Real: a.String(), Weight: *req.Weight})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, err error) {
	msg := err.Error()
	// The sentinel prefixes are for callers in Go, not for operators.
	for _, sentinel := range []error{ErrInvalid, ErrNotFound} {
		if errors.Is(err, sentinel) {
			msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
		}
	}
	writeJSON(w, status, api.Error{Error: msg})
}
