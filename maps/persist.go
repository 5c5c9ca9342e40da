package maps

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"xlb/bpf"
)

// DefaultPersistTableSize is how many IPv4 persistence templates the data
// plane holds by default (MAX_PERSIST in bpf/consts.h): a template is per
// client (or client prefix) and persistent service, far fewer than flows.
// The IPv6 table holds a quarter as many.
const DefaultPersistTableSize = 1 << 18

// MaxPersistTimeout is the longest persistence_timeout the data plane
// keeps (service.persist_timeout counts seconds in 32 bits), as IPVS.
const MaxPersistTimeout = math.MaxUint32 * time.Second

// persistDefaults fills in and checks opts' persistence table sizes.
func persistDefaults(opts *Options) error {
	if opts.PersistTableSize == 0 {
		opts.PersistTableSize = DefaultPersistTableSize
	}
	if opts.PersistTableSize6 == 0 {
		opts.PersistTableSize6 = ipv6Size(opts.PersistTableSize)
	}
	if opts.PersistTableSize > maxConns || opts.PersistTableSize6 > maxConns {
		return fmt.Errorf("persist table size: want 1..%d, got %d and %d", maxConns, opts.PersistTableSize, opts.PersistTableSize6)
	}
	return nil
}

// checkPersist checks a service's persistence and ops settings.
func checkPersist(k ServiceKey, s Service) error {
	switch {
	case s.Persist < 0 || s.Persist > MaxPersistTimeout || s.Persist%time.Second != 0:
		return fmt.Errorf("persist: want whole seconds 0..%d, got %s", uint32(math.MaxUint32), s.Persist)
	case s.PersistPrefix < 0 || s.PersistPrefix > 128:
		return fmt.Errorf("persist prefix: want 0..128, got %d", s.PersistPrefix)
	case s.OnePacket && k.Proto != unix.IPPROTO_UDP:
		// IPVS and keepalived take ops for UDP only.
		return errors.New("one-packet scheduling: want a udp service")
	}
	return nil
}

// persistValue writes s's persistence and ops settings into val, the
// services entry of k.
func persistValue(val *bpf.XlbService, k ServiceKey, s Service) {
	if s.OnePacket {
		val.Flags |= uint8(bpf.XlbServiceFlagSERVICE_F_OPS)
	}
	if s.Persist == 0 {
		return
	}
	val.Flags |= uint8(bpf.XlbServiceFlagSERVICE_F_PERSIST)
	val.PersistTimeout = uint32(s.Persist / time.Second)
	val.PersistMask = PersistMask(k.Addr, s.PersistPrefix)
}

// PersistMask is the mask the program applies to a client address of a
// service at vip with persistence_granularity bits (0: a host) to find its
// template: 16 bytes as netip.Addr.As16, an IPv4 mask in the last four.
func PersistMask(vip netip.Addr, bits int) [16]byte {
	width := 128
	if vip.Unmap().Is4() {
		width = 32
	}
	if bits <= 0 || bits > width {
		bits = width
	}
	var m [16]byte
	start := 128 - width // an IPv4 mask sits in the last 32 bits
	for i := range bits {
		m[(start+i)/8] |= 0x80 >> ((start + i) % 8)
	}
	return m
}

// PersistClient is the client address a template is keyed by: client
// masked to the service's persistence_granularity (see PersistMask).
func PersistClient(vip, client netip.Addr, bits int) netip.Addr {
	client = client.Unmap()
	m := PersistMask(vip, bits)
	if client.Is4() {
		a := client.As4()
		for i := range a {
			a[i] &= m[12+i]
		}
		return netip.AddrFrom4(a)
	}
	a := client.As16()
	for i := range a {
		a[i] &= m[i]
	}
	return netip.AddrFrom16(a)
}

// Template is a persistence template: the real a client's new flows to a
// persistent service go to while it is fresh.
type Template struct {
	RealID  uint32
	RealGen uint16 // the real's generation when it was written
	// LastSeen is when a new flow used it or one of its flows refreshed
	// it (at most once a second), on MonotonicNow's clock.
	LastSeen time.Duration
}

// persistKey is the template key of client (already masked) in service
// serviceID, and its table.
func (d *Dataplane) persistKey(serviceID uint32, client netip.Addr) (*ebpf.Map, any, error) {
	if err := d.checkServiceID(serviceID); err != nil {
		return nil, nil, err
	}
	client = client.Unmap()
	switch {
	case !client.IsValid():
		return nil, nil, errors.New("client: missing")
	case client.Is4():
		a := client.As4()
		return d.persist4, &bpf.XlbPersist4Key{ServiceId: serviceID, Client: binary.NativeEndian.Uint32(a[:])}, nil
	}
	return d.persist6, &bpf.XlbPersist6Key{ServiceId: serviceID, Client: client.As16()}, nil
}

// LookupPersist returns the template of client, an address already masked
// with PersistClient, in service serviceID, if any. It may be stale
// (LastSeen older than the service's Persist): the program then schedules
// and rewrites it.
func (d *Dataplane) LookupPersist(serviceID uint32, client netip.Addr) (Template, bool, error) {
	m, key, err := d.persistKey(serviceID, client)
	if err != nil {
		return Template{}, false, fmt.Errorf("lookup template %s of service %d: %w", client, serviceID, err)
	}
	var v bpf.XlbPersist
	if err := m.Lookup(key, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Template{}, false, nil
		}
		return Template{}, false, fmt.Errorf("lookup template %s of service %d: %w", client, serviceID, err)
	}
	return Template{RealID: v.RealId, RealGen: v.RealGen, LastSeen: time.Duration(v.LastSeen)}, true, nil
}
