package script

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrInsecure reports a script that a non-root user could change.
var ErrInsecure = errors.New("writable by a non-root user")

// CheckSecurity applies keepalived's enable_script_security rule to the
// program path (argv[0]; a bare name is looked up in PATH): the program
// and every directory above it, and again along the path its symbolic
// links resolve to, must be owned by root and must not be writable by a
// group other than root's or by others — except directories with the
// sticky bit, such as /tmp, whose entries only their owner may replace.
// Symbolic links are judged by their owner. keepalived applies the rule
// to scripts that run as root (or are set-uid/gid root); so should the
// caller. The error wraps ErrInsecure, or the stat error when a part of
// the path is missing.
func CheckSecurity(path string) error {
	full, err := absProgram(path)
	if err != nil {
		return err
	}
	if err := checkChain(full); err != nil {
		return err
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", full, err)
	}
	if real != full {
		if err := checkChain(real); err != nil {
			return fmt.Errorf("%s resolves to %s: %w", full, real, err)
		}
	}
	return nil
}

// absProgram returns path as exec would find it, made absolute and clean.
func absProgram(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty program path")
	}
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			return "", fmt.Errorf("find %s: %w", path, err)
		}
		path = found
	}
	return filepath.Abs(path)
}

// checkChain checks "/", each directory of full and full itself, without
// following a symbolic link at any step.
func checkChain(full string) error {
	parts := strings.Split(strings.TrimPrefix(full, "/"), "/")
	cur := "/"
	if err := checkOne(cur, true); err != nil {
		return err
	}
	for i, p := range parts {
		cur = filepath.Join(cur, p)
		if err := checkOne(cur, i < len(parts)-1); err != nil {
			return err
		}
	}
	return nil
}

// checkOne checks one step of a path; dir says it must be a directory.
func checkOne(path string, dir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("check %s: no owner information", path)
	}
	mode := fi.Mode()
	switch {
	case dir && !mode.IsDir():
		return fmt.Errorf("check %s: not a directory", path)
	case !dir && !mode.IsRegular() && mode&fs.ModeSymlink == 0:
		return fmt.Errorf("check %s: not a regular file or symbolic link", path)
	}
	if st.Uid != 0 {
		return fmt.Errorf("%s: owned by uid %d: %w", path, st.Uid, ErrInsecure)
	}
	// Sticky directories let only an entry's owner replace it, so their
	// write bits don't let others swap the script (keepalived agrees).
	if (mode.IsDir() && mode&fs.ModeSticky == 0) || mode.IsRegular() {
		perm := mode.Perm()
		if st.Gid != 0 && perm&0o020 != 0 {
			return fmt.Errorf("%s: writable by group %d: %w", path, st.Gid, ErrInsecure)
		}
		if perm&0o002 != 0 {
			return fmt.Errorf("%s: writable by others: %w", path, ErrInsecure)
		}
	}
	return nil
}
