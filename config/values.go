package config

import (
	"cmp"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// parseAddr reads an IPv4 or IPv6 address. Zones and prefixes are refused: keepalived's
// inet_pton takes neither, and silently dropping a "/24" would hide a mistake.
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// parseUint reads a plain decimal number no larger than limit. Signs, spaces and hex are
// refused, as keepalived's read_unsigned refuses them.
func parseUint(s string, limit uint64) (uint64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > limit {
		return 0, false
	}
	return v, true
}

// parsePort reads a port, 0..65535. keepalived reads an all-zero port as "no port", which
// for a virtual server means all ports; 0 carries that meaning here.
func parsePort(s string) (uint16, bool) {
	v, ok := parseUint(s, math.MaxUint16)
	return uint16(v), ok
}

// timerDigits is how many decimal places keepalived keeps in a time in seconds: it counts
// timers in microseconds (TIMER_HZ_DIGITS).
const timerDigits = 6

// parseSeconds reads keepalived's decimal seconds ("6", "0.5", "1.000001"), at least 1µs.
// keepalived rounds a seventh decimal place with a warning; xlb refuses it instead, since
// the operator asked for a precision that does not exist.
func parseSeconds(s string) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > timerDigits || (whole == "" && frac == "") {
		return 0, false
	}
	frac += strings.Repeat("0", timerDigits-len(frac))
	w, ok := parseUint(cmp.Or(whole, "0"), uint64(math.MaxInt64/time.Second))
	if !ok {
		return 0, false
	}
	f, ok := parseUint(frac, 999999)
	if !ok {
		return 0, false
	}
	d := time.Duration(w)*time.Second + time.Duration(f)*time.Microsecond
	if d < time.Microsecond {
		return 0, false
	}
	return d, true
}
