package controlplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"xlb/config"
	"xlb/controlplane/api"
	"xlb/health"
	"xlb/health/check"
	"xlb/internal/script"
)

// keepalived's checker defaults that are not Go's zero values.
const (
	defaultRetry      = 1
	defaultRetryDelay = time.Second
	// ScriptKillGrace is how long a timed-out script (MISC_CHECK,
	// vrrp_script, notify and quorum scripts) has between SIGTERM and
	// SIGKILL, as keepalived gives it.
	ScriptKillGrace = 2 * time.Second
)

// HealthPlan is the health checks a configuration asks for, as the health
// Monitor runs them, and how their results reach the desired state.
type HealthPlan struct {
	Services []health.Service
	// Keys fans a health service out to the services it stands for: a
	// virtual_server block over a virtual_server_group is one health
	// service (its reals are checked once, as keepalived does) and many
	// ServiceKeys.
	Keys map[string][]ServiceKey
	// Alerts names, by health service, the reals whose state changes send
	// an smtp_alert; QuorumAlerts the services whose quorum changes do.
	Alerts       map[string]map[netip.AddrPort]bool
	QuorumAlerts map[ServiceKey]bool
}

// vrrpAlert says whether global_defs mails every VRRP instance's and sync
// group's changes: smtp_alert_vrrp, else smtp_alert (an instance's own
// smtp_alert turns it on for that instance alone).
func vrrpAlert(g config.GlobalDefs) bool {
	return globalAlert(g, func(a *config.Alerts) *bool { return a.VRRP })
}

// globalAlert is global_defs' word on alerts of one kind (which), else its
// smtp_alert; none: no mail.
func globalAlert(g config.GlobalDefs, which func(*config.Alerts) *bool) bool {
	if g.Alerts == nil {
		return false
	}
	if v := which(g.Alerts); v != nil {
		return *v
	}
	return g.Alerts.SMTPAlert != nil && *g.Alerts.SMTPAlert
}

// checkerAlert says whether a checker's changes send mail: smtp_alert in
// the real_server or its virtual_server, else global_defs'
// smtp_alert_checker, else its smtp_alert; none of them: no mail.
func checkerAlert(g config.GlobalDefs, vs config.VirtualServer, rs *config.RealServer) bool {
	if vs.SMTPAlert || (rs != nil && rs.SMTPAlert) {
		return true
	}
	return globalAlert(g, func(a *config.Alerts) *bool { return a.Checker })
}

// HealthOptions are the daemon's choices about how checks run.
type HealthOptions struct {
	// ViaVIP sends the TCP_CHECKs of DR and TUN services the clients'
	// way: a SYN to the VIP in a frame addressed to the real's MAC
	// (check.VIPPath), or encapsulated to the real (check.VIPTunnel), so
	// a real that is up but not set up for the VIP counts as down.
	// A check with connect_ip keeps its own target.
	ViaVIP bool
	// Iface names the interface that reaches a real (ViaVIP needs it).
	Iface func(netip.Addr) (string, error)
}

// HealthChecks turns the checkers of cfg's virtual servers into health
// services. A checker xlb cannot run (BFD_CHECK) is left out with a
// warning; a checker that cannot be built is an error naming its line.
func HealthChecks(cfg *config.Config) (HealthPlan, []string, error) {
	return HealthChecksWith(cfg, HealthOptions{})
}

// HealthChecksWith is HealthChecks with the daemon's options.
func HealthChecksWith(cfg *config.Config, opts HealthOptions) (HealthPlan, []string, error) {
	plan := HealthPlan{Keys: map[string][]ServiceKey{}, Alerts: map[string]map[netip.AddrPort]bool{},
		QuorumAlerts: map[ServiceKey]bool{}}
	var warnings []string
	var errs []error
	tlsCerts, err := sslCertificates(cfg.SSL)
	if err != nil {
		errs = append(errs, err)
	}
	byBlock := map[config.Pos]int{} // virtual_server block → index in plan.Services
	for _, vs := range cfg.VirtualServers {
		proto, err := ParseProtocol(fmt.Sprint(vs.Protocol))
		if err != nil {
			continue // Desired reports it
		}
		key := ServiceKey{VIP: vs.Addr.Unmap(), Port: vs.Port, Protocol: proto}
		if checkerAlert(cfg.Global, vs, nil) {
			plan.QuorumAlerts[key] = true
		}
		if i, ok := byBlock[vs.Pos]; ok {
			name := plan.Services[i].Name
			plan.Keys[name] = append(plan.Keys[name], key)
			continue
		}
		svc := health.Service{
			Name:       key.String(),
			Quorum:     vs.Quorum,
			Hysteresis: vs.Hysteresis,
			Omega:      vs.Omega,
			HASuspend:  vs.HASuspend,
		}
		// quorum_up and quorum_down run from the reconciler, which knows
		// the weights xlbctl overrides, not from the Monitor; they are
		// checked here all the same.
		for what, line := range map[string]string{"quorum_up": vs.QuorumUp, "quorum_down": vs.QuorumDown} {
			if _, err := command(line, cfg.Global); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s of virtual_server %s: %w", vs.Pos, what, key, err))
			}
		}
		for _, rs := range vs.Reals {
			real := health.Real{Addr: netip.AddrPortFrom(rs.Addr.Unmap(), rs.Port), Weight: rs.Weight}
			if checkerAlert(cfg.Global, vs, &rs) {
				if plan.Alerts[svc.Name] == nil {
					plan.Alerts[svc.Name] = map[netip.AddrPort]bool{}
				}
				plan.Alerts[svc.Name][real.Addr] = true
			}
			var err error
			if real.NotifyUp, err = command(rs.NotifyUp, cfg.Global); err != nil {
				errs = append(errs, fmt.Errorf("%s: notify_up of real_server %s: %w", rs.Pos, real.Addr, err))
			}
			if real.NotifyDown, err = command(rs.NotifyDown, cfg.Global); err != nil {
				errs = append(errs, fmt.Errorf("%s: notify_down of real_server %s: %w", rs.Pos, real.Addr, err))
			}
			for _, c := range rs.Checkers {
				chk, err := buildChecker(cfg, vs, rs, c, tlsCerts)
				if err == nil && opts.ViaVIP && c.Type == config.CheckTCP && (vs.Kind == config.KindDR || vs.Kind == config.KindTUN) && !c.ConnectIP.IsValid() {
					var via check.Checker
					if via, err = viaVIP(opts, vs, rs, c); err != nil {
						warnings = append(warnings, fmt.Sprintf("%s: TCP_CHECK of real_server %s: checked at its own address, not via the VIP: %v", c.Pos, real.Addr, err))
						err = nil
					} else {
						chk = via
					}
				}
				if errors.Is(err, errNotRun) {
					warnings = append(warnings, fmt.Sprintf("%s: %s: %v", c.Pos, c.Type, err))
					continue
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %s of real_server %s: %w", c.Pos, c.Type, real.Addr, err))
					continue
				}
				real.Checks = append(real.Checks, health.Check{Checker: chk, Options: checkOptions(vs, c)})
			}
			svc.Reals = append(svc.Reals, real)
		}
		byBlock[vs.Pos] = len(plan.Services)
		plan.Services = append(plan.Services, svc)
		plan.Keys[svc.Name] = []ServiceKey{key}
	}
	return plan, warnings, errors.Join(errs...)
}

var errNotRun = errors.New("not run by xlb yet; the real counts as up")

// checkOptions are c's schedule with keepalived's defaults: retry 1,
// delay_before_retry 1 s, warmup up to delay_loop, connect_timeout 5 s;
// rise and fall (xlb's words) 1.
func checkOptions(vs config.VirtualServer, c config.Checker) health.CheckOptions {
	o := health.CheckOptions{
		Interval:   c.DelayLoop,
		Timeout:    c.ConnectTimeout,
		Retry:      c.Retry,
		RetryDelay: c.DelayBeforeRetry,
		Warmup:     c.Warmup,
		Alpha:      c.Alpha || vs.Alpha,
		Rise:       c.Rise,
		Fall:       c.Fall,
	}
	if o.Interval == 0 {
		o.Interval = vs.DelayLoop
	}
	if c.Type == config.CheckMisc {
		o.Timeout = c.MiscTimeout
	}
	// The config model cannot tell "retry 0" from no retry at all; both
	// take keepalived's default.
	if o.Retry == 0 {
		o.Retry = defaultRetry
	}
	if o.RetryDelay == 0 {
		o.RetryDelay = defaultRetryDelay
	}
	if o.Warmup == 0 {
		o.Warmup = o.Interval
	}
	return o
}

// buildChecker makes the checker c of real rs of vs.
func buildChecker(cfg *config.Config, vs config.VirtualServer, rs config.RealServer, c config.Checker, certs []tls.Certificate) (check.Checker, error) {
	conn := check.Conn{
		Addr:     netip.AddrPortFrom(rs.Addr.Unmap(), rs.Port),
		Bind:     c.BindTo.Unmap(),
		BindPort: c.BindPort,
		FWMark:   c.Fwmark,
		Timeout:  c.ConnectTimeout,
	}
	if c.ConnectIP.IsValid() {
		conn.Addr = netip.AddrPortFrom(c.ConnectIP.Unmap(), conn.Addr.Port())
	}
	if c.ConnectPort != 0 {
		conn.Addr = netip.AddrPortFrom(conn.Addr.Addr(), c.ConnectPort)
	}
	if c.BindIf != "" && conn.Addr.Addr().Is6() && conn.Addr.Addr().IsLinkLocalUnicast() {
		conn.Addr = netip.AddrPortFrom(conn.Addr.Addr().WithZone(c.BindIf), conn.Addr.Port())
	}
	switch c.Type {
	case config.CheckTCP:
		return check.NewTCP(check.TCPOptions{Conn: conn})
	case config.CheckHTTP, config.CheckSSL:
		o := check.HTTPOptions{Conn: conn, VirtualHost: firstNonEmpty(c.VirtualHost, vs.VirtualHost),
			Protocol: check.HTTPProtocol(c.HTTPProtocol)}
		for _, u := range c.URLs {
			cu, err := checkURL(u)
			if err != nil {
				return nil, err
			}
			o.URLs = append(o.URLs, cu)
		}
		if c.Type == config.CheckSSL {
			o.TLS = &check.TLSOptions{SNI: c.EnableSNI, SNIName: c.SNIName, Certificates: certs}
		}
		return check.NewHTTP(o)
	case config.CheckSMTP:
		return check.NewSMTP(check.SMTPOptions{Conn: conn, HELO: c.HeloName})
	case config.CheckMisc:
		argv, err := script.SplitWords(c.MiscPath)
		if err != nil {
			return nil, fmt.Errorf("misc_path: %w", err)
		}
		user, group := c.User, ""
		if user == "" {
			user, group = cfg.Global.ScriptUser, cfg.Global.ScriptGroup
		}
		if err := scriptSecurity(cfg.Global, argv, user); err != nil {
			return nil, err
		}
		return check.NewMisc(check.MiscOptions{Argv: argv, Timeout: c.MiscTimeout, KillGrace: ScriptKillGrace,
			Dynamic: c.MiscDynamic, User: user, Group: group})
	case config.CheckDNS:
		return check.NewDNS(check.DNSOptions{Conn: conn, Type: c.DNSType, Name: c.DNSName})
	case config.CheckUDP:
		o := check.UDPOptions{Conn: conn, Payload: c.Payload, RequireReply: c.RequireReply,
			MinReply: c.MinReplyLength, MaxReply: c.MaxReplyLength}
		if len(c.Reply) > 0 {
			mask := make([]byte, len(c.Reply))
			copy(mask, c.ReplyMask)
			o.Reply = check.HexPattern{Data: c.Reply, Mask: mask}
		}
		return check.NewUDP(o)
	case config.CheckPing:
		return check.NewPing(check.PingOptions{Conn: conn})
	case config.CheckFile:
		for _, tf := range cfg.TrackFiles {
			if tf.Name != c.TrackFile {
				continue
			}
			weight := tf.Weight
			if c.FileWeight != nil {
				weight = *c.FileWeight
			}
			return check.NewFile(check.FileOptions{Path: tf.File, Weight: int32(weight), Reverse: c.FileReverse})
		}
		return nil, fmt.Errorf("track_file %q: no such vrrp_track_file", c.TrackFile)
	}
	return nil, errNotRun
}

// viaVIP is the check standing for TCP_CHECK c of DR or TUN real rs that
// goes the clients' way: check.VIPPath to the real's MAC (DR), or
// check.VIPTunnel in IP-in-IP to the real's address (TUN), from the
// service's tunnel_source, else from the source the kernel picks by the
// route to the real, as the control plane does for the data plane.
func viaVIP(opts HealthOptions, vs config.VirtualServer, rs config.RealServer, c config.Checker) (check.Checker, error) {
	port := vs.Port
	if c.ConnectPort != 0 {
		port = c.ConnectPort
	}
	if vs.Kind == config.KindTUN {
		if vs.Tunnel != nil && vs.Tunnel.Type != config.TunnelIPIP {
			return nil, fmt.Errorf("tunnel type %s is not checked via the VIP", vs.Tunnel.Type)
		}
		return check.NewVIPTunnel(check.VIPTunnelOptions{VIP: netip.AddrPortFrom(vs.Addr.Unmap(), port),
			Real: rs.Addr.Unmap(), TunnelSource: vs.TunnelSource, Timeout: c.ConnectTimeout})
	}
	if opts.Iface == nil {
		return nil, errors.New("no interface lookup")
	}
	iface, err := opts.Iface(rs.Addr.Unmap())
	if err != nil {
		return nil, err
	}
	return check.NewVIPPath(check.VIPPathOptions{Interface: iface, VIP: netip.AddrPortFrom(vs.Addr.Unmap(), port),
		Real: rs.Addr.Unmap(), Timeout: c.ConnectTimeout})
}

// checkURL is one url block as the HTTP checker takes it.
func checkURL(u config.URL) (check.URL, error) {
	cu := check.URL{Path: u.Path, Digest: u.Digest, VirtualHost: u.VirtualHost}
	if len(u.StatusCodes) > 0 {
		var spec string
		for _, r := range u.StatusCodes {
			b, _ := r.MarshalText()
			spec += string(b) + " "
		}
		set, err := check.ParseStatusSet(spec)
		if err != nil {
			return check.URL{}, fmt.Errorf("url %s: status_code: %w", u.Path, err)
		}
		cu.Status = set
	}
	if u.Regex != "" {
		re, err := regexp.Compile(u.Regex)
		if err != nil {
			return check.URL{}, fmt.Errorf("url %s: regex: %w", u.Path, err)
		}
		cu.Regex, cu.RegexNoMatch = re, u.RegexNoMatch
	}
	return cu, nil
}

// command is a notify script line as the health Monitor runs it, as
// global_defs' script_user, refused when enable_script_security finds it
// unsafe; zero when the line is empty.
func command(line string, g config.GlobalDefs) (health.Command, error) {
	argv, err := script.SplitWords(line)
	if err != nil || len(argv) == 0 {
		return health.Command{}, err
	}
	if err := scriptSecurity(g, argv, g.ScriptUser); err != nil {
		return health.Command{}, err
	}
	return health.Command{Argv: argv, User: g.ScriptUser, Group: g.ScriptGroup}, nil
}

// scriptSecurity applies enable_script_security to a script that would
// run as root: keepalived refuses one that a non-root user could change.
func scriptSecurity(g config.GlobalDefs, argv []string, user string) error {
	if !g.EnableScriptSecurity || len(argv) == 0 || (user != "" && user != "root") {
		return nil
	}
	return script.CheckSecurity(argv[0])
}

// sslCertificates loads the SSL block's client certificate for SSL_GET.
func sslCertificates(ssl *config.SSL) ([]tls.Certificate, error) {
	if ssl == nil || ssl.Certificate == "" {
		return nil, nil
	}
	if ssl.Password != "" {
		return nil, fmt.Errorf("SSL: password-protected keys are not supported; give an unencrypted key")
	}
	key := firstNonEmpty(ssl.Key, ssl.Certificate)
	cert, err := tls.LoadX509KeyPair(ssl.Certificate, key)
	if err != nil {
		return nil, fmt.Errorf("SSL: %w", err)
	}
	return []tls.Certificate{cert}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// ChecksView is the health Monitor's snapshot in the API's schema.
func ChecksView(snap health.Snapshot) api.Checks {
	out := api.Checks{Time: snap.Time, Services: []api.CheckService{}}
	for _, s := range snap.Services {
		cs := api.CheckService{Name: s.Name, Suspended: s.Suspended, QuorumUp: s.QuorumUp,
			LiveWeight: s.LiveWeight, Quorum: s.Quorum, Reals: []api.CheckReal{}}
		for _, r := range s.Reals {
			cr := api.CheckReal{Address: r.Addr.String(), Up: r.Up, Weight: r.Weight, Reason: r.Reason,
				LastChange: r.LastChange, Checks: []api.CheckDetail{}}
			for _, c := range r.Checks {
				cr.Checks = append(cr.Checks, api.CheckDetail{
					ID: c.ID, Up: c.Up, LastUp: c.LastUp, Reason: c.Reason,
					LatencyMS:           float64(c.Latency.Microseconds()) / 1000,
					ConsecutiveFailures: c.ConsecutiveFailures, DynamicWeight: c.Weight,
					LastCheck: c.LastCheck, NextCheck: c.NextCheck,
				})
			}
			cs.Reals = append(cs.Reals, cr)
		}
		out.Services = append(out.Services, cs)
	}
	return out
}

// AlphaHealth is the health a plan starts with: reals with an alpha check
// are down until their checks pass (keepalived's alpha), the others up.
func AlphaHealth(plan HealthPlan) Health {
	h := Health{}
	for _, s := range plan.Services {
		for _, r := range s.Reals {
			for _, c := range r.Checks {
				if !c.Options.Alpha {
					continue
				}
				for _, k := range plan.Keys[s.Name] {
					h.Set(k, r.Addr, RealHealth{Reason: c.Checker.String() + ": alpha: not checked yet"})
				}
				break
			}
		}
	}
	return h
}
