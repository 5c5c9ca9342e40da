package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"xlb/controlplane/api"
)

// Checks returns `xlbctl checks -o json`, decoded into the API's own
// types: the health checks' state as xlbd's Monitor last saw it.
func (d *Daemon) Checks(ctx context.Context) (api.Checks, error) {
	res, err := d.Ctl(ctx, "checks", "-o", "json")
	if err != nil {
		return api.Checks{}, err
	}
	if res.Code != 0 {
		return api.Checks{}, fmt.Errorf("xlbctl checks: exit %d: %s", res.Code, res.Stderr)
	}
	var c api.Checks
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		return api.Checks{}, fmt.Errorf("decode xlbctl checks: %w", err)
	}
	return c, nil
}

// FindCheckReal returns the health of real in the checked service named
// service ("198.18.0.100:80/tcp").
func FindCheckReal(c api.Checks, service string, real netip.AddrPort) (api.CheckReal, bool) {
	for _, s := range c.Services {
		if s.Name != service {
			continue
		}
		for _, r := range s.Reals {
			if a, err := netip.ParseAddrPort(r.Address); err == nil && a == real {
				return r, true
			}
		}
	}
	return api.CheckReal{}, false
}

// FindReal returns the real on addr port from a service xlbctl lists,
// whatever its state.
func FindReal(s api.Service, addr netip.Addr, port uint16) (api.Real, bool) {
	for _, r := range s.Reals {
		if a, err := netip.ParseAddr(r.Address); err == nil && a == addr && r.Port == port {
			return r, true
		}
	}
	return api.Real{}, false
}
