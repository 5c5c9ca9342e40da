package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// state is what Up changed, so that Down can undo exactly that.
type state struct {
	VIPs        []netip.Addr      `json:"vips"`                   // every VIP Up was given (the decapsulator's vips)
	AddedVIPs   []netip.Addr      `json:"added_vips"`             // VIPs Up put on lo; ones already there are not ours
	Sysctls     map[string]string `json:"sysctls"`                // path under /proc/sys -> value before the first Up
	TunnelIface string            `json:"tunnel_iface,omitempty"` // where the decapsulator is attached
	PinDir      string            `json:"pin_dir,omitempty"`      // where its link and maps are pinned

	found bool // read from a file, not new
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (*state, error) {
	st := &state{Sysctls: make(map[string]string)}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(raw, st); err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	st.found = true
	if st.Sysctls == nil {
		st.Sysctls = make(map[string]string)
	}
	return st, nil
}

// save writes the state file whole (write aside, then rename), so a crash
// never leaves half a record.
func (st *state) save(path string) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

func removeState(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// setSysctl sets the sysctl at path (under /proc/sys) to value, recording
// its old value the first time.
func (st *state) setSysctl(path, value string, log *slog.Logger) error {
	old, err := readSysctl(path)
	if err != nil {
		return fmt.Errorf("set %s: %w", path, err)
	}
	if _, ok := st.Sysctls[path]; !ok {
		st.Sysctls[path] = old
	}
	if old == value {
		return nil
	}
	if err := writeSysctl(path, value); err != nil {
		return fmt.Errorf("set %s: %w", path, err)
	}
	log.Info("sysctl set", "sysctl", path, "value", value, "was", old)
	return nil
}

// looseRPFilter makes reverse-path filtering on iface loose (2) if it is
// strict (1). The kernel applies the larger of conf/all and conf/IFACE
// (Documentation/networking/ip-sysctl.rst, rp_filter), so setting the
// interface alone is enough and leaves other interfaces as they are.
func (st *state) looseRPFilter(iface string, log *slog.Logger) error {
	var eff int
	for _, name := range []string{"all", iface} {
		path := "net/ipv4/conf/" + name + "/rp_filter"
		v, err := readSysctl(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		eff = max(eff, n)
	}
	if eff != 1 {
		return nil
	}
	return st.setSysctl("net/ipv4/conf/"+iface+"/rp_filter", "2", log)
}

// sysctlRoot is where sysctls live. Files under net/ show the values of
// the reading thread's network namespace.
const sysctlRoot = "/proc/sys"

func readSysctl(path string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(sysctlRoot, path))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(raw)), nil
}

func writeSysctl(path, value string) error {
	return os.WriteFile(filepath.Join(sysctlRoot, path), []byte(value), 0o644)
}
