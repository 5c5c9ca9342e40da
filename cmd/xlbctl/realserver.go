package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"xlb/realserver"
)

// newRealserverCommand is `xlbctl realserver up|down|status`: it prepares
// the host (network namespace) it runs on as a real server behind xlb, as
// lvs_real.sh does for LVS. It needs no xlbd.
func newRealserverCommand() *cobra.Command {
	var opts realserver.Options
	cmd := &cobra.Command{
		Use:   "realserver",
		Short: "prepare this host as a real server behind xlb (VIPs on lo, ARP, TUN decap), or undo it",
		Long: `realserver acts on the host (network namespace) it runs in, without xlbd.

up puts each VIP on lo, stops the host from answering ARP for them
(arp_ignore=1, arp_announce=2), and with --tunnel attaches and pins the XDP
decapsulator for xlb's TUN mode on the interface the tunnels arrive on. It
records what it changed in the state file; running it again is harmless.
down undoes what up recorded. status shows it.`,
		Args: usageArgs(cobra.NoArgs),
		// Runnable only so that a missing or unknown subcommand is a
		// usage error (cobra prints help and exits 0 otherwise).
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("want a subcommand: up, down or status\nusage: %s", cmd.UseLine())}
		},
	}
	cmd.PersistentFlags().StringVar(&opts.PinDir, "pin-dir", realserver.DefaultPinDir, "bpffs directory for the decapsulator's pins")
	cmd.PersistentFlags().StringVar(&opts.StateFile, "state", realserver.DefaultStateFile, "file recording what up changed")

	var upVIPs, downVIPs []string
	up := &cobra.Command{
		Use:     "up --vip VIP [--vip VIP...] [--tunnel -i IFACE]",
		Short:   "put the VIPs on lo, suppress ARP for them, and attach the TUN decapsulator with --tunnel",
		Example: "  xlbctl realserver up --vip 198.18.0.100 --vip 2001:db8:100::100 --tunnel -i eth0",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(upVIPs) == 0 {
				return usageError{errors.New("up needs at least one --vip")}
			}
			vips, err := parseVIPs(upVIPs)
			if err != nil {
				return usageError{err}
			}
			o := opts
			o.VIPs = vips
			o.Logger = logger(cmd)
			return realserverErr(realserver.Up(o))
		},
	}
	up.Flags().StringArrayVar(&upVIPs, "vip", nil, "a VIP to serve (repeat for more)")
	up.Flags().BoolVar(&opts.Tunnel, "tunnel", false, "attach the decapsulator for xlb's TUN mode (needs -i)")
	up.Flags().StringVarP(&opts.Iface, "iface", "i", "", "interface the tunnels arrive on")

	down := &cobra.Command{
		Use:   "down [--vip VIP...]",
		Short: "undo what up recorded; --vip names VIPs to remove when there is no record",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			vips, err := parseVIPs(downVIPs)
			if err != nil {
				return usageError{err}
			}
			o := opts
			o.VIPs = vips
			o.Logger = logger(cmd)
			return realserverErr(realserver.Down(o))
		},
	}
	down.Flags().StringArrayVar(&downVIPs, "vip", nil, "a VIP to remove from lo when the state file is missing")

	status := &cobra.Command{
		Use:   "status",
		Short: "show what up did and the decapsulator's counters",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := realserver.Inspect(opts)
			if err != nil {
				return err
			}
			printStatus(cmd, s)
			return nil
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// parseVIPs parses --vip values.
func parseVIPs(vals []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, v := range vals {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("vip %q: want an IPv4 or IPv6 address", v)
		}
		out = append(out, a)
	}
	return out, nil
}

// realserverErr makes bad options a usage error (exit 2).
func realserverErr(err error) error {
	if errors.Is(err, realserver.ErrBadOptions) {
		return usageError{err}
	}
	return err
}

// logger reports each change realserver makes on stderr.
func logger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
}

func printStatus(cmd *cobra.Command, s realserver.Status) {
	w := cmd.OutOrStdout()
	if !s.Up {
		fmt.Fprintln(w, "realserver: down (no state file)")
	} else {
		fmt.Fprintf(w, "realserver: up\nvips: %s\nadded to lo: %s\n", joinAddrs(s.VIPs), joinAddrs(s.AddedVIPs))
		for _, k := range slices.Sorted(maps.Keys(s.Sysctls)) {
			fmt.Fprintf(w, "sysctl %s: restore %s on down\n", k, s.Sysctls[k])
		}
	}
	switch {
	case s.Ifindex != 0:
		fmt.Fprintf(w, "decap: attached to %s (ifindex %d)\n", s.TunnelIface, s.Ifindex)
	case s.TunnelIface != "":
		fmt.Fprintf(w, "decap: NOT attached (was on %s)\n", s.TunnelIface)
	default:
		fmt.Fprintln(w, "decap: not attached")
	}
	for _, k := range slices.Sorted(maps.Keys(s.Reasons)) {
		fmt.Fprintf(w, "  %-22s %d\n", k, s.Reasons[k])
	}
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, " ")
}
