package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"xlb/config"
	"xlb/controlplane/api"
	"xlb/internal/script"
	"xlb/vrrp"
	"xlb/vrrp/addrs"
	"xlb/vrrp/router"
	"xlb/vrrp/track"
)

// VRRPTrackOptions are the watchers of the objects plan's instances track:
// the vrrp_script, vrrp_track_file and vrrp_track_process blocks they
// name and the interfaces, each once. Notify, Runner and Namespace are the
// caller's to set. A script refused by enable_script_security is an error
// naming its line.
func VRRPTrackOptions(cfg *config.Config, plan VRRPPlan) (track.Options, error) {
	var o track.Options
	var errs []error
	seen := map[string]bool{}
	for _, t := range plan.Tracks {
		key := t.Source + ":" + t.Object
		if seen[key] {
			continue
		}
		seen[key] = true
		switch t.Source {
		case "interface":
			o.Interfaces = append(o.Interfaces, t.Object)
		case "script":
			for _, s := range cfg.Scripts {
				if s.Name != t.Object {
					continue
				}
				argv, err := script.SplitWords(s.Script)
				if err == nil && len(argv) == 0 {
					err = errors.New("empty script")
				}
				user := s.User
				if user == "" {
					user = cfg.Global.ScriptUser
				}
				if err == nil {
					err = scriptSecurity(cfg.Global, argv, user)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: vrrp_script %s: %w", s.Pos, s.Name, err))
					continue
				}
				if s.Group != "" {
					user += ":" + s.Group
				}
				o.Scripts = append(o.Scripts, track.Script{Name: s.Name, Argv: argv, Interval: s.Interval,
					Timeout: s.Timeout, Weight: s.Weight, Reverse: s.Reverse, Rise: s.Rise, Fall: s.Fall,
					User: user, InitFail: s.InitFail})
			}
		case "file":
			for _, f := range cfg.TrackFiles {
				if f.Name == t.Object {
					o.Files = append(o.Files, trackFile(f))
				}
			}
		case "process":
			for _, p := range cfg.TrackProcesses {
				if p.Name == t.Object {
					o.Processes = append(o.Processes, trackProcess(p))
				}
			}
		}
	}
	return o, errors.Join(errs...)
}

func trackFile(f config.TrackFile) track.File {
	tf := track.File{Name: f.Name, Path: f.File, Weight: f.Weight, Reverse: f.Reverse}
	// init_file [VALUE] [overwrite]
	if f.Init != "" {
		tf.Init = true
		for _, w := range strings.Fields(f.Init) {
			if w == "overwrite" {
				tf.Overwrite = true
			} else if v, ok := track.ParseValue([]byte(w)); ok {
				tf.InitValue = int(v)
			}
		}
	}
	return tf
}

func trackProcess(p config.TrackProcess) track.Process {
	tp := track.Process{Name: p.Name, Command: p.Process, Params: p.Params, FullCommand: p.FullCommand,
		Weight: p.Weight, Reverse: p.Reverse, Quorum: p.Quorum,
		ForkDelay: p.ForkDelay, TerminateDelay: p.TerminateDelay}
	switch p.ParamMatch {
	case "exact":
		tp.ParamMatch = track.ParamExact
	case "partial":
		tp.ParamMatch = track.ParamPartial
	case "initial":
		tp.ParamMatch = track.ParamInitial
	}
	if p.QuorumMax != nil {
		if *p.QuorumMax == 0 {
			tp.NoneRunning, tp.Quorum = true, 0
		} else {
			tp.QuorumMax = *p.QuorumMax
		}
	}
	return tp
}

// VRRPTrackEvent turns a watcher's event into the SetTracked calls it
// means: one for each instance or sync group tracking that object, with
// that line's weight.
func VRRPTrackEvent(plan VRRPPlan, ev track.Event) []TrackUpdate {
	source := map[track.Kind]string{track.KindScript: "script", track.KindInterface: "interface",
		track.KindFile: "file", track.KindProcess: "process"}[ev.Kind]
	var out []TrackUpdate
	for _, t := range plan.Tracks {
		if t.Source != source || t.Object != ev.Name {
			continue
		}
		vt := vrrp.Track{Kind: t.Kind, Up: ev.Up, Weight: t.Weight, Reverse: t.Reverse}
		if t.Kind == vrrp.TrackFile {
			vt.Value = ev.Value
		}
		out = append(out, TrackUpdate{Target: t.Target, Name: t.Name, Track: vt})
	}
	return out
}

// TrackUpdate is one Router.SetTracked call.
type TrackUpdate struct {
	Target, Name string
	Track        vrrp.Track
}

// ScriptRunner runs vrrp_script checks through internal/script, killing
// the whole process group when one outlives its timeout.
type ScriptRunner struct{}

// Run runs argv as user ("user" or "user:group"; "" is ours) and returns
// its exit code.
func (ScriptRunner) Run(ctx context.Context, argv []string, user string) (int, error) {
	u, g, _ := strings.Cut(user, ":")
	res, err := script.Run(ctx, script.Command{Argv: argv, User: u, Group: g, KillGrace: ScriptKillGrace})
	if err != nil {
		return -1, err
	}
	if res.TimedOut {
		return -1, context.DeadlineExceeded
	}
	return res.ExitCode, nil
}

// VRRPView is the router's status in the API's schema.
func VRRPView(st router.Status) api.VRRP {
	out := api.VRRP{Instances: []api.VRRPInstance{}, Groups: []api.VRRPGroup{}}
	for _, i := range st.Instances {
		vi := api.VRRPInstance{Name: i.Name, VRID: i.VRID, Version: i.Version, Interface: i.Interface,
			State: i.State.String(), Priority: i.Priority, EffectivePriority: i.EffectivePriority,
			MasterPriority: i.MasterPriority, AdvertIntervalMS: i.AdvertInterval.Milliseconds(),
			Since: i.Since, Reason: i.Reason, VIPs: []string{}, SyncGroup: i.SyncGroup, Errors: i.ReceiveErrors}
		if i.Master.IsValid() {
			vi.Master = i.Master.String()
		}
		for _, v := range i.VIPs {
			vi.VIPs = append(vi.VIPs, v.String())
		}
		out.Instances = append(out.Instances, vi)
	}
	for _, g := range st.Groups {
		out.Groups = append(out.Groups, api.VRRPGroup{Name: g.Name, State: g.State.String(), Members: g.Members,
			Since: g.Since, Reason: g.Reason})
	}
	return out
}

// InstanceVIPs are the addresses each VRRP instance carries (its
// virtual_ipaddress and virtual_ipaddress_excluded), by name.
func InstanceVIPs(plan VRRPPlan) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, ic := range plan.Options.Instances {
		for _, list := range [][]addrs.Address{ic.Addresses, ic.Excluded} {
			for _, a := range list {
				out[ic.VRRP.Name] = append(out[ic.VRRP.Name], a.Prefix.Addr().Unmap())
			}
		}
	}
	return out
}

// HASuspendActive says which health services with ha_suspend should run
// their checks: those whose VIP this node holds as VRRP master, and those
// whose VIP no VRRP instance carries (nothing to suspend on). masters are
// the instances now MASTER.
func HASuspendActive(hp HealthPlan, vips map[string][]netip.Addr, masters map[string]bool) map[string]bool {
	carried, held := map[netip.Addr]bool{}, map[netip.Addr]bool{}
	for name, list := range vips {
		for _, a := range list {
			carried[a] = true
			if masters[name] {
				held[a] = true
			}
		}
	}
	out := map[string]bool{}
	for _, s := range hp.Services {
		if !s.HASuspend {
			continue
		}
		active := false
		for _, k := range hp.Keys[s.Name] {
			if held[k.VIP] || !carried[k.VIP] {
				active = true
			}
		}
		out[s.Name] = active
	}
	return out
}

// VRRPNotifySecurity applies enable_script_security to the notify scripts
// of plan's instances and sync groups, which run as global_defs'
// script_user: one a non-root user could change is refused, naming it.
func VRRPNotifySecurity(cfg *config.Config, plan VRRPPlan) error {
	var errs []error
	for name, n := range plan.Notify {
		for what, line := range map[string]string{"notify_master": n.Master, "notify_backup": n.Backup,
			"notify_fault": n.Fault, "notify_stop": n.Stop, "notify": n.Any} {
			argv, err := script.SplitWords(line)
			if err == nil {
				err = scriptSecurity(cfg.Global, argv, cfg.Global.ScriptUser)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", name, what, err))
			}
		}
	}
	return errors.Join(errs...)
}
