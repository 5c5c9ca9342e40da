package script

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"xlb/internal/testutil"
)

func TestCheckSecurity(t *testing.T) {
	testutil.RequireRoot(t)
	// t.TempDir lives under /tmp, a root-owned sticky directory that the
	// rule accepts, in directories of mode 0700 owned by root.
	const nobody = 65534
	tests := []struct {
		name string
		// setup builds the case under dir and returns the path to check.
		setup func(t *testing.T, dir string) string
		want  error // nil, ErrInsecure, or fs.ErrNotExist
	}{
		{"root file 0755", func(t *testing.T, dir string) string {
			return file(t, dir, "s", 0o755, 0, 0)
		}, nil},
		{"group writable, root group", func(t *testing.T, dir string) string {
			return file(t, dir, "s", 0o775, 0, 0)
		}, nil},
		{"group writable, other group", func(t *testing.T, dir string) string {
			return file(t, dir, "s", 0o775, 0, nobody)
		}, ErrInsecure},
		{"world writable", func(t *testing.T, dir string) string {
			return file(t, dir, "s", 0o757, 0, 0)
		}, ErrInsecure},
		{"owned by nobody", func(t *testing.T, dir string) string {
			return file(t, dir, "s", 0o755, nobody, 0)
		}, ErrInsecure},
		{"world writable parent", func(t *testing.T, dir string) string {
			sub := mkdir(t, dir, "d", 0o777)
			return file(t, sub, "s", 0o755, 0, 0)
		}, ErrInsecure},
		{"sticky world writable parent", func(t *testing.T, dir string) string {
			sub := mkdir(t, dir, "d", 0o777|fs.ModeSticky)
			return file(t, sub, "s", 0o755, 0, 0)
		}, nil},
		{"parent owned by nobody", func(t *testing.T, dir string) string {
			sub := mkdir(t, dir, "d", 0o755)
			if err := os.Chown(sub, nobody, 0); err != nil {
				t.Fatal(err)
			}
			return file(t, sub, "s", 0o755, 0, 0)
		}, ErrInsecure},
		{"root symlink to unsafe file", func(t *testing.T, dir string) string {
			sub := mkdir(t, dir, "unsafe", 0o777)
			target := file(t, sub, "s", 0o755, 0, 0)
			link := filepath.Join(dir, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, ErrInsecure},
		{"root symlink to safe file", func(t *testing.T, dir string) string {
			target := file(t, dir, "s", 0o755, 0, 0)
			link := filepath.Join(dir, "link")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, nil},
		{"missing", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "nothing")
		}, fs.ErrNotExist},
		{"bare name found in PATH", func(t *testing.T, dir string) string {
			return "sh"
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.setup(t, t.TempDir())
			err := CheckSecurity(path)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("CheckSecurity(%s) = %v, want %v", path, err, tc.want)
			}
		})
	}
}

// file writes an executable script dir/name with the given mode and owner.
func file(t *testing.T, dir, name string, mode fs.FileMode, uid, gid int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	// Chmod after chown: chown clears set-id bits, and WriteFile's mode
	// is masked by the umask.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// mkdir makes dir/name with exactly mode.
func mkdir(t *testing.T, dir, name string, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}
