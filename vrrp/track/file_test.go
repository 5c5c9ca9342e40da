package track

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"5\n", 5, true},
		{"  \t-254 \n", -254, true},
		{"+7", 7, true},
		{"0x1F", 31, true},
		{"0X1f", 31, true},
		{"0x", 0, true},  // strtol reads the 0 and stops at x
		{"0xg", 0, true}, // likewise
		{"017", 15, true},
		{"08", 0, true}, // octal: the 8 ends the number
		{"12abc", 12, true},
		{"abc", 0, true},
		{"- 5", 0, true},
		{"--5", 0, true},
		{"2147483647", 2147483647, true},
		{"2147483648", 2147483648, true}, // keepalived allows INT32_MAX+1
		{"2147483649", 0, false},
		{"-2147483648", -2147483648, true},
		{"-2147483649", 0, false},
		{"99999999999999999999999999", 0, false},
		{"3\x004", 3, true},
		{"\x005", 0, true},
		{strings.Repeat(" ", 126) + "42", 4, true}, // only 127 bytes count
	}
	for _, tc := range tests {
		t.Run(strconv.Quote(tc.in), func(t *testing.T) {
			got, ok := ParseValue([]byte(tc.in))
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("ParseValue(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestFiles writes, renames and removes tracked files and checks the
// events, including an init_file and a file whose directory is missing.
func TestFiles(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "f1")
	f2 := filepath.Join(dir, "sub", "f2") // sub is a symlink to dir2
	dir2 := t.TempDir()
	if err := os.Symlink(dir2, filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	w, err := New(Options{
		Files: []File{
			{Name: "one", Path: f1, Weight: 10},
			{Name: "two", Path: f2, Init: true, InitValue: 7},
			{Name: "lost", Path: filepath.Join(dir, "nodir", "f")},
		},
		Notify: ev.notify,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	start(t, w)

	ignoreAt := cmpopts.IgnoreFields(Event{}, "At")
	want := func(name string, value int, reason string) {
		t.Helper()
		got := ev.next(t)
		if diff := cmp.Diff(Event{Name: name, Kind: KindFile, Up: value == 0, Value: value, Reason: reason}, got, ignoreAt); diff != "" {
			t.Fatalf("event (-want +got):\n%s", diff)
		}
	}
	// write replaces path atomically (write aside, rename in), so the
	// watcher never reads a half-written file of a later write.
	write := func(path, content string) {
		t.Helper()
		tmp := filepath.Join(filepath.Dir(path), ".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	want("one", 0, "missing")
	want("two", 7, "read 7")
	if b, err := os.ReadFile(filepath.Join(dir2, "f2")); err != nil || string(b) != "7\n" {
		t.Errorf("init_file wrote %q, %v; want \"7\\n\"", b, err)
	}

	write(f1, "5\n")
	want("one", 5, "read 5")
	write(f1, " -3 and more")
	want("one", -3, "read -3")
	write(f1, "-3")         // same value: no event
	write(f1, "3000000000") // out of range: ignored
	write(f2, "0x10")
	want("two", 16, "read 16") // proves the two writes to f1 before it sent nothing
	st := statusOf(w, KindFile, "one")
	if st.Value != -3 || st.Reason != "value out of range" {
		t.Errorf("Status of one = %+v, want value -3, reason value out of range", st)
	}

	// A write in place is seen when the file is closed.
	if err := os.WriteFile(f1, []byte("9"), 0o644); err != nil {
		t.Fatal(err)
	}
	want("one", 9, "read 9")
	if err := os.Remove(f1); err != nil {
		t.Fatal(err)
	}
	want("one", 0, "missing")
	if err := os.Rename(filepath.Join(dir2, "f2"), filepath.Join(dir2, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	want("two", 0, "missing")
	ev.none(t, 100*time.Millisecond)

	if st := statusOf(w, KindFile, "lost"); st.State != StateInit || !strings.HasPrefix(st.Reason, "not watched") {
		t.Errorf("Status of lost = %+v, want init, not watched", st)
	}
}

func statusOf(w *Watcher, kind Kind, name string) Status {
	for _, s := range w.Status() {
		if s.Kind == kind && s.Name == name {
			return s
		}
	}
	return Status{}
}

func TestInitFileOverwrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := initFile(&File{Init: true, InitValue: -2}, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "3\n" {
		t.Errorf("init_file without overwrite changed the file to %q", b)
	}
	if err := initFile(&File{Init: true, InitValue: -2, Overwrite: true}, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "-2\n" {
		t.Errorf("init_file overwrite wrote %q, want \"-2\\n\"", b)
	}
}
