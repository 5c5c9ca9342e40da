package config

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"time"
)

// This file decodes the vrrp_instance keywords beyond the seed's course: auth_hmac, ipvlan,
// checksum compatibility and tuning (vrrp/vrrp_parser.c in keepalived).

// instanceMoreFields are the rows of instanceSchema this file decodes.
func instanceMoreFields() map[string]field[Instance] {
	return map[string]field[Instance]{
		"auth_hmac":            decodeAuthHMAC,
		"garp_extra_if":        garpExtraIfField(func(i *Instance) *Garp { return &i.Garp }),
		"vmac_garp_intvl":      garpExtraIfField(func(i *Instance) *Garp { return &i.Garp }),
		"use_vmac_addr":        flagField(func(i *Instance) *bool { return &i.UseVMACAddr }),
		"use_ipvlan":           decodeIPVlan,
		"notify_deleted":       decodeNotifyDeleted,
		"old_unicast_checksum": decodeOldUnicastChecksum,
		"v3_checksum_as_v2":    optBoolField(func(i *Instance) **bool { return &i.V3ChecksumAsV2 }),
		"kernel_rx_buf_size":   uint32Field(func(i *Instance) *uint32 { return &i.KernelRxBufSize }),
		"debug":                intField(func(i *Instance) *int { return &i.Debug }, 0, 4),
		"no_virtual_ipaddress": flagField(func(i *Instance) *bool { return &i.NoVirtualIPs }),
		"timer_expired_backup": decodeTimerExpiredBackup,
		"thread_timer_expired": decodeTimerExpiredBackup,
		"linkbeat_use_polling": decodeInstanceLinkbeat,
	}
}

// optBoolField stores a flag that keepalived reads as "KEYWORD [true|false]" where an
// explicit false must override a global default, so the model keeps nil for unset.
func optBoolField[T any](get func(*T) **bool) field[T] {
	return func(d *decoder, n *node, into *T) {
		b, nerr := false, d.errCount()
		flagField(func(*T) *bool { return &b })(d, n, into)
		if d.errCount() == nerr {
			*get(into) = &b
		}
	}
}

// argText is the i-th argument of n, or "".
func argText(n *node, i int) string {
	if i < len(n.Args) {
		return n.Args[i].Text
	}
	return ""
}

// garpExtraIfField reads "garp_extra_if [all] SECONDS" (and its old names), SECONDS whole
// in 0..86400.
func garpExtraIfField[T any](get func(*T) *Garp) field[T] {
	return func(d *decoder, n *node, into *T) {
		if !noBlock(d, n) {
			return
		}
		x := &GarpExtraIf{}
		secs := -1
		for _, a := range n.Args {
			if a.Text == "all" {
				x.All = true
				continue
			}
			v, ok := parseIntRange(a.Text, 0, 86400)
			if !ok || secs >= 0 {
				d.errorf(a.Pos, "%s: %s %q: want [all] SECONDS, SECONDS whole in 0..86400", d.where, n.Key.Text, a.Text)
				return
			}
			secs = v
		}
		if secs < 0 {
			d.errorf(n.Key.Pos, "%s: %s: missing SECONDS; want [all] SECONDS", d.where, n.Key.Text)
			return
		}
		if old, ok := strings.CutSuffix(n.Key.Text, "vmac_garp_intvl"); ok {
			d.warnf(n.Key.Pos, "%s: %s is deprecated (keepalived too); write %sgarp_extra_if", d.where, n.Key.Text, old)
		}
		x.Interval = time.Duration(secs) * time.Second
		get(into).ExtraIf = x
	}
}

// Limits of auth_hmac (keepalived's vrrp_auth_hmac.h).
const (
	hmacKeyMin    = 32  // bytes of a key
	hmacKeyMax    = 64  // bytes of a key
	hmacWindowMax = 300 // seconds of time_window
)

var authHMACSchema = &schema[AuthHMAC]{
	words: authHMACWords,
	fields: map[string]field[AuthHMAC]{
		"key":         decodeHMACKey,
		"active_key":  intField(func(a *AuthHMAC) *int { return &a.ActiveKey }, 1, 255),
		"anti_replay": enumField(func(a *AuthHMAC) *string { return &a.AntiReplay }, "time", "monotonic"),
		"mode":        enumField(func(a *AuthHMAC) *string { return &a.Mode }, "enforce", "permissive", "receive-only"),
		"time_window": func(d *decoder, n *node, a *AuthHMAC) {
			var s int
			intField(func(*AuthHMAC) *int { return &s }, 1, hmacWindowMax)(d, n, a)
			a.TimeWindow = time.Duration(s) * time.Second
		},
	},
}

// decodeHMACKey reads "key ID VALUE": VALUE ASCII, hex:DIGITS or file:PATH.
func decodeHMACKey(d *decoder, n *node, a *AuthHMAC) {
	if !noBlock(d, n) {
		return
	}
	if len(n.Args) != 2 {
		d.errorf(n.Key.Pos, "%s: key: want ID VALUE (VALUE text, hex:DIGITS or file:PATH)", d.where)
		return
	}
	id, ok := parseIntRange(n.Args[0].Text, 1, 255)
	if !ok {
		d.errorf(n.Args[0].Pos, "%s: key id %q: want 1..255", d.where, n.Args[0].Text)
		return
	}
	for _, k := range a.Keys {
		if k.ID == id {
			d.errorf(n.Args[0].Pos, "%s: key %d: defined twice, first at %s", d.where, id, k.Pos)
			return
		}
	}
	k := HMACKey{Pos: n.Key.Pos, ID: id}
	v := n.Args[1]
	if path, ok := strings.CutPrefix(v.Text, "file:"); ok {
		if path == "" {
			d.errorf(v.Pos, "%s: key %d: file: names no file", d.where, id)
			return
		}
		k.File = path
		a.Keys = append(a.Keys, k)
		return
	}
	secret := []byte(v.Text)
	if digits, ok := strings.CutPrefix(v.Text, "hex:"); ok {
		b, err := hex.DecodeString(digits)
		if err != nil {
			d.errorf(v.Pos, "%s: key %d: %q: want an even number of hex digits after hex:", d.where, id, v.Text)
			return
		}
		secret = b
	}
	if len(secret) < hmacKeyMin || len(secret) > hmacKeyMax {
		d.errorf(v.Pos, "%s: key %d: %d bytes; want %d..%d", d.where, id, len(secret), hmacKeyMin, hmacKeyMax)
		return
	}
	k.Secret = secret
	a.Keys = append(a.Keys, k)
}

func decodeAuthHMAC(d *decoder, n *node, i *Instance) {
	if len(n.Args) > 0 || n.Block == nil {
		d.errorf(n.Key.Pos, "%s: auth_hmac: want auth_hmac { ... }", d.where)
		d.check(authHMACWords, n)
		return
	}
	if i.AuthHMAC != nil {
		d.errorf(n.Key.Pos, "%s: auth_hmac: written twice", d.where)
		return
	}
	item := d.where + ": auth_hmac"
	a := &AuthHMAC{AntiReplay: "time", Mode: "enforce"}
	nerr := len(d.errs)
	authHMACSchema.decode(d, item, n.Block.Nodes, a)
	if len(d.errs) > nerr {
		return
	}
	found := false
	for _, k := range a.Keys {
		found = found || k.ID == a.ActiveKey
	}
	switch {
	case a.ActiveKey == 0:
		d.errorf(n.Key.Pos, "%s: no active_key", item)
	case !found:
		d.errorf(n.Key.Pos, "%s: active_key %d: no key %d", item, a.ActiveKey, a.ActiveKey)
	case a.TimeWindow != 0 && a.AntiReplay != "time":
		d.errorf(n.Key.Pos, "%s: time_window needs anti_replay time", item)
	default:
		i.AuthHMAC = a
	}
}

// decodeIPVlan reads "use_ipvlan [[name] IF] [ADDR[/LEN]] [bridge|private|vepa] [group G]".
func decodeIPVlan(d *decoder, n *node, i *Instance) {
	if !noBlock(d, n) {
		return
	}
	if i.IPVlan != nil {
		d.errorf(n.Key.Pos, "%s: use_ipvlan: written twice", d.where)
		return
	}
	v := &IPVlan{}
	args := n.Args
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a.Text == "bridge" || a.Text == "private" || a.Text == "vepa":
			if v.Mode != "" {
				d.errorf(a.Pos, "%s: use_ipvlan: mode %q after %q", d.where, a.Text, v.Mode)
				return
			}
			v.Mode = a.Text
			continue
		case a.Text == "group" || a.Text == "name":
			if k+1 == len(args) {
				d.errorf(a.Pos, "%s: use_ipvlan: %s: missing value", d.where, a.Text)
				return
			}
			k++
			if a.Text == "group" {
				v.Group = args[k].Text
				continue
			}
			a = args[k]
		default:
			if p, ok := parseIPVlanAddr(a.Text); ok {
				if v.Addr.IsValid() {
					d.errorf(a.Pos, "%s: use_ipvlan: second address %q", d.where, a.Text)
					return
				}
				v.Addr = p
				continue
			}
		}
		if v.Name != "" {
			d.errorf(a.Pos, "%s: use_ipvlan: second interface name %q", d.where, a.Text)
			return
		}
		if len(a.Text) >= ifNameSize {
			d.errorf(a.Pos, "%s: use_ipvlan: interface name %q: longer than %d bytes", d.where, a.Text, ifNameSize-1)
			return
		}
		v.Name = a.Text
	}
	if v.Mode == "bridge" {
		v.Mode = "" // the default, so that both spellings dump the same
	}
	i.IPVlan = v
}

// ifNameSize is the kernel's IFNAMSIZ: names hold at most 15 bytes.
const ifNameSize = 16

// parseIPVlanAddr reads ADDR or ADDR/LEN; ADDR alone is a host prefix.
func parseIPVlanAddr(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, ok := parseAddr(s)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// decodeNotifyDeleted reads "notify_deleted [SCRIPT [USER[:GROUP]]]".
func decodeNotifyDeleted(d *decoder, n *node, i *Instance) {
	if !noBlock(d, n) {
		return
	}
	i.NotifyDeleted = true
	if len(n.Args) > 0 {
		i.Notify.Deleted = words(n.Args)
	}
}

// decodeOldUnicastChecksum reads "old_unicast_checksum [never]".
func decodeOldUnicastChecksum(d *decoder, n *node, i *Instance) {
	if !noBlock(d, n) {
		return
	}
	switch {
	case len(n.Args) == 0:
		i.OldUnicastChecksum = ChecksumCompatOld
	case len(n.Args) == 1 && n.Args[0].Text == "never":
		i.OldUnicastChecksum = ChecksumCompatNever
	default:
		d.errorf(n.Args[0].Pos, "%s: old_unicast_checksum %q: want no value, or never", d.where, words(n.Args))
	}
}

// decodeTimerExpiredBackup reads "timer_expired_backup [PRIORITY]", PRIORITY 1..254 and
// 254 when left out; thread_timer_expired is its first name.
func decodeTimerExpiredBackup(d *decoder, n *node, i *Instance) {
	if !noBlock(d, n) {
		return
	}
	if n.Key.Text == "thread_timer_expired" {
		d.warnf(n.Key.Pos, "%s: thread_timer_expired is deprecated (keepalived too); write timer_expired_backup", d.where)
	}
	p := 254
	if len(n.Args) > 0 {
		var ok bool
		if p, ok = parseIntRange(n.Args[0].Text, 1, 254); !ok || len(n.Args) > 1 {
			d.errorf(n.Args[0].Pos, "%s: %s %q: want a priority, 1..254", d.where, n.Key.Text, words(n.Args))
			return
		}
	}
	i.TimerExpiredBackup = p
}

func decodeInstanceLinkbeat(d *decoder, n *node, i *Instance) {
	flagField(func(i *Instance) *bool { return &i.LinkbeatUsePolling })(d, n, i)
	d.warnf(n.Key.Pos, "%s: linkbeat_use_polling in vrrp_instance is deprecated (keepalived too); list the interface in a top-level linkbeat_interfaces { }", d.where)
}
