package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"xlb/controlplane/api"
	"xlb/controlplane/maglev"
)

// settings are the daemon's own settings (not keepalived.conf): flags first,
// then XLB_* environment variables, then defaults.
type settings struct {
	Config         string
	Interfaces     []string
	BPFFS          string
	Socket         string
	CheckOnly      bool
	LogLevel       string
	MaglevSize     uint32
	MaxServices    uint32
	MaxReals       uint32
	ResolveTimeout time.Duration
}

func newRootCommand() *cobra.Command { return newCommand(dispatch) }

// dispatch runs what the settings ask for: a config check or the daemon.
func dispatch(cmd *cobra.Command, s settings) error {
	if s.CheckOnly {
		return checkConfig(cmd.ErrOrStderr(), s.Config)
	}
	logger, err := newLogger(s.LogLevel)
	if err != nil {
		return err
	}
	return run(cmd.Context(), s, logger)
}

// newCommand builds xlbd's command line; act receives the settings read
// from flags and environment (tests pass their own act).
func newCommand(act func(*cobra.Command, settings) error) *cobra.Command {
	v := viper.New()
	v.SetEnvPrefix("XLB")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()

	cmd := &cobra.Command{
		Use:   "xlbd -f FILE -i IFACE [-i IFACE…] [--bpffs DIR] [--socket PATH]",
		Short: "xlb daemon: keepalived.conf virtual servers served by an XDP load balancer",
		Long: `xlbd reads virtual_server blocks from a keepalived.conf, loads xlb's XDP program,
attaches it to each interface given with -i and keeps its maps equal to the
configuration and to runtime overrides made with xlbctl.

Signals: SIGHUP reloads the configuration (a bad one keeps the old one
serving); SIGTERM or SIGINT detaches the program, removes the pins and exits.

Every flag can be set by environment: XLB_CONFIG, XLB_INTERFACES (comma
list), XLB_BPFFS, XLB_SOCKET, XLB_LOG_LEVEL, XLB_MAGLEV_SIZE, …`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := readSettings(v)
			if err != nil {
				return err
			}
			return act(cmd, s)
		},
	}
	f := cmd.Flags()
	f.StringP("config", "f", "/etc/keepalived/keepalived.conf", "keepalived.conf to read")
	f.StringSliceP("interface", "i", nil, "interface to attach the XDP program to (repeat or comma list)")
	f.String("bpffs", "/sys/fs/bpf/xlb", "bpffs directory for xlb's pinned maps")
	f.String("socket", api.DefaultSocket, "unix socket of the API")
	f.BoolP("config-test", "t", false, "check the configuration and exit: 0 valid, 1 errors")
	f.String("log-level", "info", "debug, info, warn or error")
	f.Uint32("maglev-size", maglev.DefaultSize, "slots of each service's Maglev table (a prime)")
	f.Uint32("max-services", 256, "capacity of the services map")
	f.Uint32("max-reals", 4096, "capacity of the reals map")
	f.Duration("resolve-timeout", 3*time.Second, "how long start-up waits for real servers' MACs")
	// Environment names follow the flag names, except where the issue's
	// documented names differ (XLB_INTERFACES for -i).
	for flag, env := range map[string]string{"interface": "XLB_INTERFACES"} {
		if err := v.BindEnv(flag, env); err != nil {
			panic(err)
		}
	}
	if err := v.BindPFlags(f); err != nil {
		panic(err)
	}
	return cmd
}

func readSettings(v *viper.Viper) (settings, error) {
	s := settings{
		Config:         v.GetString("config"),
		BPFFS:          v.GetString("bpffs"),
		Socket:         v.GetString("socket"),
		CheckOnly:      v.GetBool("config-test"),
		LogLevel:       v.GetString("log-level"),
		MaglevSize:     v.GetUint32("maglev-size"),
		MaxServices:    v.GetUint32("max-services"),
		MaxReals:       v.GetUint32("max-reals"),
		ResolveTimeout: v.GetDuration("resolve-timeout"),
	}
	// The environment gives a comma list as one string; flags may too.
	for _, item := range v.GetStringSlice("interface") {
		for _, name := range strings.Split(item, ",") {
			if name = strings.TrimSpace(name); name != "" {
				s.Interfaces = append(s.Interfaces, name)
			}
		}
	}
	if s.CheckOnly {
		return s, nil
	}
	if len(s.Interfaces) == 0 {
		return s, fmt.Errorf("no interface: give -i IFACE (or XLB_INTERFACES)")
	}
	if !maglev.IsPrime(s.MaglevSize) {
		return s, fmt.Errorf("maglev-size: want a prime, got %d", s.MaglevSize)
	}
	return s, nil
}
