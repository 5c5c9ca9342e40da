package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"xlb/controlplane/api"
	"xlb/controlplane/maglev"
	"xlb/maps"
)

// defaultSettingsFile is read when it exists; --settings (or XLB_SETTINGS) names
// another file, which must exist. Tests point it elsewhere.
var defaultSettingsFile = "/etc/xlb/xlbd.yaml"

// settings are the daemon's own settings (not keepalived.conf). Each comes from,
// first to last: a flag, an XLB_* environment variable, the YAML settings file,
// the default.
type settings struct {
	Config        string
	ConfigID      string // selects keepalived's @ID lines; empty: the host name
	Interfaces    []string
	BPFFS         string
	Socket        string
	CheckOnly     bool
	Dump          bool // with CheckOnly: print the configuration as JSON
	PrintSettings bool
	SettingsFile  string // the YAML file read, empty when none
	LogLevel      string
	MaglevSize    uint32
	MaxServices   uint32
	MaxReals      uint32
	ConnTableSize uint32 // IPv4 flows the connection table holds; IPv6 gets a quarter
	// PersistTableSize is how many IPv4 persistence templates the data
	// plane holds (IPv6: a quarter).
	PersistTableSize uint32
	// NATTableSize and FNATTableSize are how many IPv4 NAT and full-NAT
	// flows the reverse tables hold (IPv6: a quarter); 0: as many as the
	// connection table (NAT), a quarter of it (full NAT). A node without
	// such services sets 1 and saves their memory.
	NATTableSize, FNATTableSize uint32
	ResolveTimeout              time.Duration
	// SlowStart is how long a real coming back from a failed health check
	// takes to ramp up to its full weight; 0: at once, as keepalived.
	SlowStart time.Duration
	// CheckViaVIP sends DR and TUN services' TCP_CHECKs to the VIP the
	// way clients' packets go: through the real's MAC, or IP-in-IP to it.
	CheckViaVIP bool
	// LBLCExpiration is how long an lblc/lblcr destination entry may go
	// unused (IPVS's lblc_expiration and lblcr_expiration sysctls), and how
	// long an lblcr set must go unchanged before it sheds a real.
	LBLCExpiration time.Duration
}

// fileKeys are the keys a settings file may hold: the long flag names, which
// are also the environment names (XLB_ + upper case, "-" as "_"). Actions
// (config-test, dump, print-settings) and the file's own name are flags only.
var fileKeys = []string{
	"config", "config-id", "interface", "bpffs", "socket", "log-level",
	"maglev-size", "max-services", "max-reals", "conn-table-size", "persist-table-size", "nat-table-size", "fnat-table-size", "resolve-timeout", "slow-start", "check-via-vip",
	"lblc-expiration",
}

func newRootCommand() *cobra.Command { return newCommand(dispatch) }

// dispatch runs what the settings ask for: print the settings, a config check
// or the daemon.
func dispatch(cmd *cobra.Command, s settings) error {
	switch {
	case s.PrintSettings:
		_, err := fmt.Fprint(cmd.OutOrStdout(), settingsYAML(s))
		return err
	case s.CheckOnly:
		return checkConfig(cmd.OutOrStdout(), cmd.ErrOrStderr(), s)
	}
	logger, err := newLogger(s.LogLevel)
	if err != nil {
		return err
	}
	return run(cmd.Context(), s, logger)
}

// newCommand builds xlbd's command line; act receives the settings read
// from flags, environment and settings file (tests pass their own act).
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

  xlbd -t -f FILE [--config-id ID] [--dump]   check the configuration (exit 0 valid, 1 errors);
                                              --dump prints it as JSON (docs/config.md)
  xlbd --print-settings                       print the effective daemon settings as YAML

Signals: SIGHUP reloads the configuration (a bad one keeps the old one
serving); SIGTERM or SIGINT detaches the program, removes the pins and exits.

Daemon settings come from flags, then XLB_* environment variables (XLB_CONFIG,
XLB_INTERFACES as a comma list, XLB_BPFFS, XLB_SOCKET, XLB_LOG_LEVEL,
XLB_MAGLEV_SIZE, …), then the YAML file ` + defaultSettingsFile + ` (or
--settings FILE; keys are the long flag names), then the defaults.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			explicit := cmd.Flags().Changed("settings") || os.Getenv("XLB_SETTINGS") != ""
			s, err := readSettings(v, explicit)
			if err != nil {
				return err
			}
			return act(cmd, s)
		},
	}
	f := cmd.Flags()
	f.StringP("config", "f", "/etc/keepalived/keepalived.conf", "keepalived.conf to read")
	f.String("config-id", "", "configuration id selecting @ID lines, as keepalived's -i (default the host name)")
	f.StringSliceP("interface", "i", nil, "interface to attach the XDP program to (repeat or comma list)")
	f.String("bpffs", "/sys/fs/bpf/xlb", "bpffs directory for xlb's pinned maps")
	f.String("socket", api.DefaultSocket, "unix socket of the API")
	f.BoolP("config-test", "t", false, "check the configuration and exit: 0 valid, 1 errors")
	f.Bool("dump", false, "with -t: print the normalized configuration as JSON on stdout")
	f.String("settings", defaultSettingsFile, "YAML file of daemon settings (keys: long flag names)")
	f.Bool("print-settings", false, "print the effective daemon settings as YAML and exit")
	f.String("log-level", "info", "debug, info, warn or error")
	f.Uint32("maglev-size", maglev.DefaultSize, "slots of each service's Maglev table (a prime)")
	f.Uint32("max-services", 256, "capacity of the services map")
	f.Uint32("max-reals", 4096, "capacity of the reals map")
	f.Uint32("conn-table-size", 1<<20, "IPv4 flows the connection table holds (IPv6: a quarter); preallocated")
	f.Uint32("persist-table-size", maps.DefaultPersistTableSize, "IPv4 persistence templates the data plane holds (IPv6: a quarter); preallocated")
	f.Uint32("nat-table-size", 0, "IPv4 NAT flows the reverse table holds (IPv6: a quarter); 0: as --conn-table-size; preallocated, 1 on a node without NAT services")
	f.Uint32("fnat-table-size", 0, "IPv4 full-NAT flows the FNAT tables hold (IPv6: a quarter); 0: a quarter of --conn-table-size; preallocated, 1 on a node without FNAT services")
	f.Duration("resolve-timeout", 3*time.Second, "how long start-up waits for real servers' MACs")
	f.Bool("check-via-vip", false, "send DR and TUN services' TCP_CHECKs to the VIP the way clients' packets go (real's MAC, or IP-in-IP to the real)")
	f.Duration("slow-start", 0, "ramp a real that passes its health checks again up to full weight over this time (0: at once)")
	f.Duration("lblc-expiration", maps.DefaultLocalityExpiration, "lblc/lblcr: forget a destination unused this long, and shed a real from an lblcr set unchanged this long (IPVS's lblc_expiration)")
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

// readSettingsFile reads the YAML settings file into v. The default file may
// be missing; a file the operator named must exist. Unknown keys are errors,
// since a misspelt key would silently leave a default in place.
func readSettingsFile(v *viper.Viper, explicit bool) (string, error) {
	path := v.GetString("settings")
	if path == "" {
		return "", nil
	}
	file := viper.New()
	file.SetConfigFile(path)
	file.SetConfigType("yaml")
	if err := file.ReadInConfig(); err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", fmt.Errorf("settings %s: %w", path, err)
	}
	m := file.AllSettings()
	// A settings file may say "interfaces", as the environment does.
	if list, ok := m["interfaces"]; ok {
		if _, both := m["interface"]; both {
			return "", fmt.Errorf("settings %s: both interface and interfaces", path)
		}
		delete(m, "interfaces")
		m["interface"] = list
	}
	for k := range m {
		if !slices.Contains(fileKeys, k) {
			return "", fmt.Errorf("settings %s: unknown key %q (want one of %s)", path, k, strings.Join(fileKeys, ", "))
		}
	}
	if err := v.MergeConfigMap(m); err != nil {
		return "", fmt.Errorf("settings %s: %w", path, err)
	}
	return path, nil
}

func readSettings(v *viper.Viper, explicitFile bool) (settings, error) {
	file, err := readSettingsFile(v, explicitFile)
	if err != nil {
		return settings{}, err
	}
	s := settings{
		Config:           v.GetString("config"),
		ConfigID:         v.GetString("config-id"),
		BPFFS:            v.GetString("bpffs"),
		Socket:           v.GetString("socket"),
		CheckOnly:        v.GetBool("config-test"),
		Dump:             v.GetBool("dump"),
		PrintSettings:    v.GetBool("print-settings"),
		SettingsFile:     file,
		LogLevel:         v.GetString("log-level"),
		MaglevSize:       v.GetUint32("maglev-size"),
		MaxServices:      v.GetUint32("max-services"),
		MaxReals:         v.GetUint32("max-reals"),
		ConnTableSize:    v.GetUint32("conn-table-size"),
		PersistTableSize: v.GetUint32("persist-table-size"),
		NATTableSize:     v.GetUint32("nat-table-size"),
		FNATTableSize:    v.GetUint32("fnat-table-size"),
		ResolveTimeout:   v.GetDuration("resolve-timeout"),
		SlowStart:        v.GetDuration("slow-start"),
		CheckViaVIP:      v.GetBool("check-via-vip"),
		LBLCExpiration:   v.GetDuration("lblc-expiration"),
	}
	if s.ConfigID == "" {
		// keepalived's default, the short host name; filled in here so
		// --print-settings shows the id the @ID lines are matched with.
		host, _ := os.Hostname()
		s.ConfigID, _, _ = strings.Cut(host, ".")
	}
	// The environment gives a comma list as one string; flags may too.
	for _, item := range v.GetStringSlice("interface") {
		for _, name := range strings.Split(item, ",") {
			if name = strings.TrimSpace(name); name != "" {
				s.Interfaces = append(s.Interfaces, name)
			}
		}
	}
	if s.Dump && !s.CheckOnly {
		return s, fmt.Errorf("--dump goes with -t")
	}
	if s.CheckOnly || s.PrintSettings {
		return s, nil
	}
	if len(s.Interfaces) == 0 {
		return s, fmt.Errorf("no interface: give -i IFACE (or XLB_INTERFACES)")
	}
	if s.LBLCExpiration <= 0 {
		return s, fmt.Errorf("lblc-expiration: want > 0, got %s", s.LBLCExpiration)
	}
	if !maglev.IsPrime(s.MaglevSize) {
		return s, fmt.Errorf("maglev-size: want a prime, got %d", s.MaglevSize)
	}
	return s, nil
}

// settingsYAML writes the daemon settings as a YAML settings file would hold
// them, so that the output can be saved as one.
func settingsYAML(s settings) string {
	var b strings.Builder
	if s.SettingsFile != "" {
		fmt.Fprintf(&b, "# read from %s\n", s.SettingsFile)
	}
	fmt.Fprintf(&b, "config: %s\n", yamlString(s.Config))
	fmt.Fprintf(&b, "config-id: %s\n", yamlString(s.ConfigID))
	b.WriteString("interface:")
	if len(s.Interfaces) == 0 {
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for _, i := range s.Interfaces {
		fmt.Fprintf(&b, "  - %s\n", yamlString(i))
	}
	fmt.Fprintf(&b, "bpffs: %s\n", yamlString(s.BPFFS))
	fmt.Fprintf(&b, "socket: %s\n", yamlString(s.Socket))
	fmt.Fprintf(&b, "log-level: %s\n", yamlString(s.LogLevel))
	fmt.Fprintf(&b, "maglev-size: %d\n", s.MaglevSize)
	fmt.Fprintf(&b, "max-services: %d\n", s.MaxServices)
	fmt.Fprintf(&b, "max-reals: %d\n", s.MaxReals)
	fmt.Fprintf(&b, "conn-table-size: %d\n", s.ConnTableSize)
	fmt.Fprintf(&b, "persist-table-size: %d\n", s.PersistTableSize)
	fmt.Fprintf(&b, "nat-table-size: %d\n", s.NATTableSize)
	fmt.Fprintf(&b, "fnat-table-size: %d\n", s.FNATTableSize)
	fmt.Fprintf(&b, "resolve-timeout: %s\n", s.ResolveTimeout)
	fmt.Fprintf(&b, "slow-start: %s\n", s.SlowStart)
	fmt.Fprintf(&b, "check-via-vip: %t\n", s.CheckViaVIP)
	fmt.Fprintf(&b, "lblc-expiration: %s\n", s.LBLCExpiration)
	return b.String()
}

// yamlString quotes s as a YAML double-quoted scalar, which reads back as s
// whatever it holds (JSON string escapes are valid there).
func yamlString(s string) string { return fmt.Sprintf("%q", s) }
