package bpfutil

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// BPFFSRoot is where a bpf filesystem is mounted by convention.
const BPFFSRoot = "/sys/fs/bpf"

// EnsurePinDir makes sure dir can hold pins: it mounts bpffs at BPFFSRoot
// when dir lies under it and nothing is mounted there (a fresh machine or
// container), then creates dir (mode 0700) and checks it is on bpffs.
func EnsurePinDir(dir string, log *slog.Logger) error {
	if dir == BPFFSRoot || strings.HasPrefix(dir, BPFFSRoot+"/") {
		on, err := IsBPFFS(BPFFSRoot)
		if err != nil {
			return err
		}
		if !on {
			if err := unix.Mount("bpf", BPFFSRoot, "bpf", 0, ""); err != nil {
				return fmt.Errorf("mount bpffs on %s: %w", BPFFSRoot, err)
			}
			log.Info("mounted bpffs", "path", BPFFSRoot)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pin dir: %w", err)
	}
	on, err := IsBPFFS(dir)
	if err != nil {
		return err
	}
	if !on {
		return fmt.Errorf("pin dir %s: not on a bpf filesystem (mount -t bpf bpf DIR)", dir)
	}
	return nil
}

// IsBPFFS reports whether path lies on a bpf filesystem.
func IsBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Type == unix.BPF_FS_MAGIC, nil
}
