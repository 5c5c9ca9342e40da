package router

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/conn"
	"xlb/vrrp/packet"
)

// sender is an instance's vrrp.Sender: it encodes adverts from the
// socket's source address, to the group or to each unicast peer (version
// 3's checksum covers the destination, so each peer gets its own copy).
type sender struct {
	c    *conn.Conn
	opts packet.MarshalOptions
}

func (s *sender) Send(a packet.Advertisement, peers []netip.Addr) error {
	if s.c == nil {
		return fmt.Errorf("send advert: socket not open")
	}
	src := s.c.Source()
	if len(peers) == 0 {
		b, err := packet.Marshal(a, src, s.c.Group(), s.opts)
		if err != nil {
			return fmt.Errorf("encode advert: %w", err)
		}
		return s.c.Send(b, netip.Addr{})
	}
	var errs []error
	for _, p := range peers {
		b, err := packet.Marshal(a, src, p, s.opts)
		if err == nil {
			err = s.c.Send(b, p)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// addresser is an instance's vrrp.Addresser. The Host holds the
// configured addresses, excluded ones, routes and rules, so the VIP list
// the state machine passes is not needed.
type addresser struct {
	h *addrs.Host
}

func (a *addresser) Take([]netip.Addr) error {
	if a.h == nil {
		return fmt.Errorf("take addresses: host not open")
	}
	return a.h.Take()
}

func (a *addresser) Release([]netip.Addr) error {
	if a.h == nil {
		return nil
	}
	return a.h.Release()
}

// queue is the vrrp.Notifier of every instance and group: Notify only
// appends (it runs under an instance's lock), run hands the notifications
// to the caller's function in order.
type queue struct {
	fn   func(vrrp.Notification)
	mu   sync.Mutex
	q    []vrrp.Notification
	wake chan struct{}
}

func newQueue(fn func(vrrp.Notification)) *queue {
	return &queue{fn: fn, wake: make(chan struct{}, 1)}
}

func (q *queue) Notify(n vrrp.Notification) {
	if q.fn == nil {
		return
	}
	q.mu.Lock()
	q.q = append(q.q, n)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run delivers notifications until done is closed, then the ones queued
// by then (the state machines' last, STOP), and returns.
func (q *queue) run(done <-chan struct{}) {
	for {
		stopping := false
		select {
		case <-q.wake:
		case <-done:
			stopping = true
		}
		q.mu.Lock()
		batch := q.q
		q.q = nil
		q.mu.Unlock()
		for _, n := range batch {
			q.fn(n)
		}
		if stopping {
			return
		}
	}
}

// rxStats counts received adverts dropped before the state machine, by
// reason.
type rxStats struct {
	mu     sync.Mutex
	counts map[string]uint64
}

// add counts a drop and reports whether it is the first for reason.
func (s *rxStats) add(reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts == nil {
		s.counts = map[string]uint64{}
	}
	s.counts[reason]++
	return s.counts[reason] == 1
}

func (s *rxStats) snapshot() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.counts) == 0 {
		return nil
	}
	m := make(map[string]uint64, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// primary4 returns ifname's first IPv4 address, the source keepalived's
// adverts take when none is configured.
func primary4(ifname string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("look up interface %s: %w", ifname, err)
	}
	as, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("list addresses of %s: %w", ifname, err)
	}
	for _, a := range as {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(ipn.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("interface %s has no IPv4 address to send from", ifname)
}
