package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"

	"xlb/internal/nsrun"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/conn"
	"xlb/vrrp/packet"
)

// ErrUnknown is returned by SetTracked for a name that is neither an
// instance nor a sync group.
var ErrUnknown = errors.New("no such vrrp instance or sync group")

// Router runs VRRP instances and sync groups. Its methods are safe for
// concurrent use.
type Router struct {
	log       *slog.Logger
	instances []*instance
	byName    map[string]*instance
	groups    []*group
	queue     *queue

	mu  sync.Mutex
	ran bool
}

// instance is one vrrp_instance with the adapters its state machine
// calls.
type instance struct {
	cfg  InstanceConfig
	send *sender
	take *addresser
	// group is the sync group running the instance; nil: it runs alone.
	group *group
	rx    rxStats
	// m is nil until Run builds it; pending holds SetTracked calls until
	// then. Both are guarded by Router.mu.
	m       *vrrp.Instance
	pending map[string]vrrp.Track
}

type group struct {
	cfg     GroupConfig
	g       *vrrp.SyncGroup
	members []*instance
}

// New checks opts and builds the state machines; Run opens the sockets and
// runs them.
func New(opts Options) (*Router, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{log: logger, byName: map[string]*instance{}, queue: newQueue(opts.Notify)}
	for _, c := range opts.Instances {
		name := c.VRRP.Name
		if name == "" {
			return nil, fmt.Errorf("vrrp instance: empty name")
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("vrrp instance %s: defined twice", name)
		}
		if err := c.check(); err != nil {
			return nil, fmt.Errorf("vrrp instance %s: %w", name, err)
		}
		in := &instance{cfg: c, send: &sender{}, take: &addresser{}}
		o := c.VRRP
		if len(o.VIPs) == 0 {
			for _, a := range c.Addresses {
				o.VIPs = append(o.VIPs, a.Prefix.Addr())
			}
		}
		// A zero Primary is the socket's source, known once Run opens it.
		if !o.Primary.IsValid() {
			o.Primary = c.Source
		}
		o.Sender, o.Addresser, o.Notifier = in.send, in.take, r.queue
		if o.Logger == nil {
			o.Logger = logger
		}
		in.cfg.VRRP = o
		r.instances = append(r.instances, in)
		r.byName[name] = in
	}
	seenGroup := map[string]bool{}
	for _, gc := range opts.Groups {
		if seenGroup[gc.Name] || r.byName[gc.Name] != nil {
			return nil, fmt.Errorf("vrrp sync group %s: name used twice", gc.Name)
		}
		seenGroup[gc.Name] = true
		g := &group{cfg: gc}
		for _, n := range gc.Members {
			in := r.byName[n]
			if in == nil {
				return nil, fmt.Errorf("vrrp sync group %s: member %s: %w", gc.Name, n, ErrUnknown)
			}
			if in.group != nil {
				return nil, fmt.Errorf("vrrp sync group %s: member %s: already in sync group %s", gc.Name, n, in.group.cfg.Name)
			}
			in.group = g
			g.members = append(g.members, in)
		}
		r.groups = append(r.groups, g)
	}
	return r, nil
}

// build makes the state machines once the primary addresses are known,
// with the tracked objects' states set so far. r.mu is held.
func (r *Router) build() error {
	for _, in := range r.instances {
		m, err := vrrp.New(in.cfg.VRRP)
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(in.pending)) {
			m.SetTracked(name, in.pending[name])
		}
		in.m, in.pending = m, nil
	}
	for _, g := range r.groups {
		var ms []*vrrp.Instance
		for _, in := range g.members {
			ms = append(ms, in.m)
		}
		sg, err := vrrp.NewSyncGroup(vrrp.SyncGroupOptions{
			Name: g.cfg.Name, TrackingWeight: g.cfg.TrackingWeight, Notifier: r.queue, Logger: r.log,
		}, ms...)
		if err != nil {
			return err
		}
		g.g = sg
	}
	return nil
}

// SetTracked sets the tracked object trackName of the instance name, or of
// every member of the sync group name, as vrrp.Instance.SetTracked does.
// Calls before Run are kept and applied when Run starts.
func (r *Router) SetTracked(name, trackName string, t vrrp.Track) error {
	var targets []*instance
	if in := r.byName[name]; in != nil {
		targets = []*instance{in}
	}
	for _, g := range r.groups {
		if g.cfg.Name == name {
			targets = g.members
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("set tracked %s of %s: %w", trackName, name, ErrUnknown)
	}
	r.mu.Lock()
	var running []*vrrp.Instance
	for _, in := range targets {
		if in.m == nil {
			if in.pending == nil {
				in.pending = map[string]vrrp.Track{}
			}
			in.pending[trackName] = t
		} else {
			running = append(running, in.m)
		}
	}
	r.mu.Unlock()
	for _, m := range running {
		m.SetTracked(trackName, t)
	}
	return nil
}

// Run opens the sockets and VMACs in the calling thread's network
// namespace and runs every instance and sync group until ctx ends. Then the
// masters send priority 0 and release their addresses (the state machines'
// stop), the last notifications are delivered, and the sockets and VMACs
// close. Run may be called once.
func (r *Router) Run(ctx context.Context) (err error) {
	r.mu.Lock()
	if r.ran {
		r.mu.Unlock()
		return fmt.Errorf("vrrp router: already ran")
	}
	r.ran = true
	// Status waits while the sockets open: it reads what open and build
	// set.
	defer r.mu.Unlock()

	ns, err := netns.Get()
	if err != nil {
		return fmt.Errorf("vrrp router: get network namespace: %w", err)
	}
	defer ns.Close()
	res, err := r.open()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, res.close()) }()
	if err := r.build(); err != nil {
		return err
	}
	r.mu.Unlock()
	defer r.mu.Lock() // for the deferred Unlock above

	// Every goroutine enters the namespace of Run's caller: Take opens
	// announcement sockets and looks interfaces up by name.
	inNS := func(fn func() error) func() error {
		return func() error { return nsrun.Do(ns, fn) }
	}
	g, gctx := errgroup.WithContext(ctx)
	machinesDone := make(chan struct{})
	for _, rc := range res.conns {
		g.Go(inNS(func() error { return r.receive(gctx, rc) }))
	}
	for _, h := range res.hosts {
		g.Go(inNS(func() error { return h.Run(gctx) }))
	}
	g.Go(func() error {
		defer close(machinesDone)
		var mg errgroup.Group
		for _, in := range r.instances {
			if in.group == nil {
				mg.Go(inNS(func() error { return in.m.Run(gctx) }))
			}
		}
		for _, gr := range r.groups {
			mg.Go(inNS(func() error { return gr.g.Run(gctx) }))
		}
		return mg.Wait()
	})
	g.Go(inNS(func() error { r.queue.run(machinesDone); return nil }))
	r.log.Info("vrrp router running", "instances", len(r.instances), "sync_groups", len(r.groups), "sockets", len(res.conns))
	return g.Wait()
}

// resources are what Run opened and closes.
type resources struct {
	conns []*rxConn
	hosts []*addrs.Host
}

func (res *resources) close() error {
	var errs []error
	for _, c := range res.conns {
		if err := c.c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close vrrp socket on %s: %w", c.key.iface, err))
		}
	}
	for _, h := range res.hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// connKey says which instances share a socket: keepalived's one socket per
// interface and family, split further by group and source since those are
// the socket's.
type connKey struct {
	iface   string
	v6      bool
	group   netip.Addr
	source  netip.Addr
	unicast bool
}

// rxConn is a shared socket and the instances it feeds, by VRID.
type rxConn struct {
	key    connKey
	c      *conn.Conn
	byVRID map[uint8]*instance
}

// open opens the VMACs (addrs.Open creates them) and the sockets, and
// wires them into each instance's adapters.
func (r *Router) open() (res *resources, err error) {
	res = &resources{}
	defer func() {
		if err != nil {
			err = errors.Join(err, res.close())
		}
	}()
	conns := map[connKey]*rxConn{}
	for _, in := range r.instances {
		c := in.cfg
		o := c.VRRP
		h, err := addrs.Open(addrs.Options{
			Interface: c.Interface, VRID: o.VRID, IPv6: c.ipv6(),
			UseVMAC: c.UseVMAC, VMACName: c.VMACName,
			Addresses: slices.Concat(c.Addresses, c.Excluded),
			Routes:    c.Routes, Rules: c.Rules, Announce: c.Announce,
			Logger: r.log.With("instance", o.Name),
		})
		if err != nil {
			return res, fmt.Errorf("vrrp instance %s: %w", o.Name, err)
		}
		res.hosts = append(res.hosts, h)
		in.take.h = h

		key := connKey{iface: c.Interface, v6: c.ipv6(), group: c.Group, source: c.Source, unicast: len(o.Unicast) > 0}
		if c.UseVMAC && !c.VMACXmitBase {
			key.iface = h.VMAC()
			if !key.source.IsValid() && !key.v6 {
				// The VMAC has no address of its own: keepalived sends
				// from the base interface's.
				if key.source, err = primary4(c.Interface); err != nil {
					return res, fmt.Errorf("vrrp instance %s: %w", o.Name, err)
				}
			}
		}
		rc := conns[key]
		if rc == nil {
			cc, err := conn.Open(conn.Options{Interface: key.iface, IPv6: key.v6, Group: key.group, Source: key.source, Unicast: key.unicast})
			if err != nil {
				return res, fmt.Errorf("vrrp instance %s: %w", o.Name, err)
			}
			rc = &rxConn{key: key, c: cc, byVRID: map[uint8]*instance{}}
			conns[key] = rc
			res.conns = append(res.conns, rc)
		}
		if other := rc.byVRID[o.VRID]; other != nil {
			return res, fmt.Errorf("vrrp instance %s: virtual_router_id %d on %s already used by instance %s", o.Name, o.VRID, key.iface, other.cfg.VRRP.Name)
		}
		rc.byVRID[o.VRID] = in
		in.send.c = rc.c
		in.send.opts = packet.MarshalOptions{V3ChecksumAsV2: c.V3ChecksumAsV2, OldUnicastChecksum: c.OldUnicastChecksum}
		if !o.Primary.IsValid() {
			in.cfg.VRRP.Primary = rc.c.Source()
		}
	}
	return res, nil
}

// Status is a snapshot of every instance and sync group, for xlbctl vrrp.
type Status struct {
	Instances []InstanceStatus   `json:"instances"`
	Groups    []vrrp.GroupStatus `json:"sync_groups,omitempty"`
}

// InstanceStatus is an instance's state machine status with its socket's
// view.
type InstanceStatus struct {
	vrrp.Status
	Interface string     `json:"interface"`
	Source    netip.Addr `json:"source,omitzero"` // the adverts' source; zero before Run
	// ReceiveErrors count received adverts dropped before the state
	// machine saw them, by reason.
	ReceiveErrors map[string]uint64 `json:"receive_errors,omitempty"`
}

// Status returns every instance's and group's status, in configuration
// order. Before Run, instances show state INIT and no counters.
func (r *Router) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s Status
	for _, in := range r.instances {
		is := InstanceStatus{Interface: in.cfg.Interface, ReceiveErrors: in.rx.snapshot()}
		if in.m != nil {
			is.Status = in.m.Status()
		} else {
			is.Status = vrrp.Status{Name: in.cfg.VRRP.Name, VRID: in.cfg.VRRP.VRID, Version: in.cfg.VRRP.Version, VIPs: in.cfg.VRRP.VIPs}
		}
		if in.send.c != nil {
			is.Source = in.send.c.Source()
		}
		s.Instances = append(s.Instances, is)
	}
	for _, g := range r.groups {
		if g.g != nil {
			s.Groups = append(s.Groups, g.g.Status())
		} else {
			s.Groups = append(s.Groups, vrrp.GroupStatus{Name: g.cfg.Name, Members: g.cfg.Members})
		}
	}
	return s
}
