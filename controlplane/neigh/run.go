package neigh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// resubscribeDelay is the pause before Run subscribes again after the
// kernel dropped a subscription (a full socket buffer ends it with ENOBUFS).
const resubscribeDelay = time.Second

// Run subscribes to neighbour, link and route notifications and signals
// Changed for those that concern looked-up addresses, until ctx ends. It
// signals Changed once subscribed, since earlier lookups could have missed
// a change. A subscription the kernel drops is renewed (and Changed
// signalled, as notifications were lost). Run returns nil when ctx ends,
// after every goroutine it started has ended, and an error only when it
// cannot subscribe at all.
func (t *Table) Run(ctx context.Context) error {
	err := t.serve(ctx)
	if sub := (subscribeError{}); errors.As(err, &sub) {
		return err
	}
	for ctx.Err() == nil {
		t.logger.Warn("netlink subscription lost, subscribing again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(resubscribeDelay):
			err = t.serve(ctx)
		}
	}
	return nil
}

// subscribeError is a failure to open a subscription, as opposed to losing
// one later.
type subscribeError struct{ err error }

func (e subscribeError) Error() string { return e.err.Error() }
func (e subscribeError) Unwrap() error { return e.err }

// serve subscribes and handles notifications until ctx ends (nil) or a
// subscription ends (its error).
func (t *Table) serve(ctx context.Context) (err error) {
	done := make(chan struct{})
	neighs := make(chan netlink.NeighUpdate, 64)
	links := make(chan netlink.LinkUpdate, 16)
	routes := make(chan netlink.RouteUpdate, 64)
	errc := make(chan error, 3)
	cberr := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}

	// netlink's receive goroutines close their channel once done closes
	// the socket; draining until then lets them finish a pending send.
	var drains []func()
	defer func() {
		close(done)
		for _, drain := range drains {
			drain()
		}
	}()
	if err := netlink.NeighSubscribeWithOptions(neighs, done, netlink.NeighSubscribeOptions{ErrorCallback: cberr}); err != nil {
		return subscribeError{fmt.Errorf("subscribe to neighbour updates: %w", err)}
	}
	drains = append(drains, func() {
		for range neighs {
		}
	})
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{ErrorCallback: cberr}); err != nil {
		return subscribeError{fmt.Errorf("subscribe to link updates: %w", err)}
	}
	drains = append(drains, func() {
		for range links {
		}
	})
	if err := netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{ErrorCallback: cberr}); err != nil {
		return subscribeError{fmt.Errorf("subscribe to route updates: %w", err)}
	}
	drains = append(drains, func() {
		for range routes {
		}
	})
	t.signal()

	lost := func(what string) error {
		select {
		case err := <-errc:
			return fmt.Errorf("%s subscription: %w", what, err)
		default:
			return fmt.Errorf("%s subscription ended", what)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-neighs:
			if !ok {
				return lost("neighbour")
			}
			if t.neighEvent(u) {
				t.signal()
			}
		case u, ok := <-links:
			if !ok {
				return lost("link")
			}
			if t.linkEvent(u) {
				t.signal()
			}
		case u, ok := <-routes:
			if !ok {
				return lost("route")
			}
			if t.routeEvent(u) {
				t.signal()
			}
		}
	}
}

// neighEvent records a neighbour notification and reports whether it
// changes the hop of a watched address. Repeats (REACHABLE to STALE with the
// same MAC, a managed entry failing again every probe interval) do not.
func (t *Table) neighEvent(u netlink.NeighUpdate) bool {
	if u.Family != unix.AF_INET && u.Family != unix.AF_INET6 {
		return false // bridge FDB entries share the notification group
	}
	addr, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return false
	}
	addr = addr.Unmap()
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.neighs[addr]
	if !ok || w.ifindex != u.LinkIndex {
		return false
	}
	mac := usableMAC(&u.Neigh)
	if u.Type == unix.RTM_DELNEIGH {
		mac = nil
	}
	if w.known && bytes.Equal(w.mac, mac) {
		return false
	}
	switch {
	case w.known && w.mac != nil && mac != nil:
		t.logger.Info("neighbour changed MAC", "addr", addr, "old", w.mac.String(), "mac", mac.String())
	case w.known && w.mac != nil:
		t.logger.Info("neighbour lost", "addr", addr, "state", stateName(&u.Neigh))
	default:
		t.logger.Debug("neighbour updated", "addr", addr, "mac", mac.String(), "state", stateName(&u.Neigh))
	}
	w.known, w.mac = true, mac
	return true
}

// linkEvent reports whether a link notification changes the MAC or the
// MTU of (or removes) an interface that reaches a watched address: the
// data plane's reals hold both (the MTU decides TUN's Packet Too Big).
func (t *Table) linkEvent(u netlink.LinkUpdate) bool {
	attrs := u.Link.Attrs()
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.links[attrs.Index]
	if !ok {
		return false
	}
	if u.Header.Type == unix.RTM_DELLINK {
		delete(t.links, attrs.Index)
		t.logger.Info("interface reaching reals removed", "iface", attrs.Name)
		return true
	}
	macChanged := !bytes.Equal(l.mac, attrs.HardwareAddr)
	mtuChanged := l.mtu != attrs.MTU
	if l.known && !macChanged && !mtuChanged {
		return false
	}
	if l.known && macChanged {
		t.logger.Info("interface changed MAC", "iface", attrs.Name, "old", l.mac.String(), "mac", attrs.HardwareAddr.String())
	}
	if l.known && mtuChanged {
		t.logger.Info("interface changed MTU", "iface", attrs.Name, "old", l.mtu, "mtu", attrs.MTU)
	}
	l.known, l.mac, l.mtu = true, bytes.Clone(attrs.HardwareAddr), attrs.MTU
	return true
}

// routeEvent reports whether a route notification covers a watched address,
// which may then be reached through another interface or a gateway.
func (t *Table) routeEvent(u netlink.RouteUpdate) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u.Dst == nil {
		return len(t.neighs) > 0 || len(t.routed) > 0 // a default route covers everything
	}
	prefix, ok := netipPrefix(u.Dst.IP, u.Dst.Mask)
	if !ok {
		return false
	}
	for addr := range t.neighs {
		if prefix.Contains(addr) {
			return true
		}
	}
	for addr := range t.routed {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}
